"""Our MutatingWebhookConfiguration, the certificate its caBundle must verify, and (in
cluster mode) the Lease and the Secret.

- `webhook-registered`: the configuration exists and has webhooks for Pod CREATE.
- `webhook-ca-bundle`: for a Service reference, the serving certificate in our Secret
  chains to the caBundle and names `<service>.<namespace>.svc` (what kube-apiserver
  checks); for a `url`, a TLS handshake with the caBundle as the only trust, with a
  timeout.
- `lease`: someone holds it and renewed it in time (else nobody renews certificates).
- `secret`: it holds usable material and its serving certificate is valid now.
"""

from __future__ import annotations

import base64
import binascii
import socket
import ssl
import urllib.parse
from collections.abc import Mapping
from typing import Any

from cryptography import x509

from injector.certs import cluster_store, issuing, leader
from injector.cluster import kubeapi, registration
from injector.doctor import report
from injector.doctor.target import Snapshot, Target

REGISTERED, CA_BUNDLE, LEASE, SECRET = "webhook-registered", "webhook-ca-bundle", "lease", "secret"
START = "apply the manifests (kubectl apply -k manifests/) and make sure the injector runs"


def registered(target: Target, snapshot: Snapshot) -> list[report.Check]:
    ours = snapshot.configuration(target.webhook_name)
    if ours is None:
        return [
            report.failed(
                REGISTERED,
                f"MutatingWebhookConfiguration {target.webhook_name} is not registered:"
                " kube-apiserver sends no Pod to the injector",
                START,
            )
        ]
    hooks = [h for h in ours.get("webhooks") or [] if isinstance(h, dict)]
    names = ", ".join(str(h.get("name")) for h in hooks) or "none"
    checks = [
        report.passed(
            REGISTERED,
            f"MutatingWebhookConfiguration {target.webhook_name} is registered"
            f" with {len(hooks)} webhooks ({names})",
        )
    ]
    if _selectors(hooks) != _selectors(_expected(target)["webhooks"]):
        revisions = ", ".join(target.revisions)
        checks.append(
            report.warned(
                REGISTERED,
                f"its webhooks or selectors are not those of the configuration given"
                f" (revision and tags {revisions}, namespace {target.namespace})",
                "pass the deployed configuration with --config; if it is the one, apply"
                " the manifests made for it (docs/beside-istiod.md)",
            )
        )
    return checks


def _expected(target: Target) -> dict[str, Any]:
    cfg = target.config
    return registration.webhook_configuration(
        namespace=target.namespace,
        service=cfg.certificates.service,
        url=None,
        ca_bundle_pem=b"",
        system_namespaces=cfg.systemNamespaces,
        revision=cfg.revision,
        tags=cfg.tags,
    )


def _selectors(hooks: list[dict[str, Any]]) -> dict[str, Any]:
    """Each webhook's selectors by its name: what decides which Pods it is sent."""
    return {
        str(h.get("name")): (h.get("namespaceSelector") or {}, h.get("objectSelector") or {})
        for h in hooks
    }


def _bundle(hook: Mapping[str, Any]) -> list[x509.Certificate]:
    """The caBundle's certificates; ValueError naming what is wrong."""
    encoded = (hook.get("clientConfig") or {}).get("caBundle")
    if not encoded:
        raise ValueError("has no caBundle")
    try:
        return issuing.load_certificates(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError):
        raise ValueError("has a caBundle that holds no PEM certificate") from None


def _dns_names(cert: x509.Certificate) -> list[str]:
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return list(sans.get_values_for_type(x509.DNSName))


def _served_by_service(
    target: Target, service: Mapping[str, Any], roots: list[x509.Certificate], secret: Any
) -> report.Check:
    where = f"{service.get('name')}.{service.get('namespace')}.svc"
    if secret is None:
        return report.warned(
            CA_BUNDLE,
            f"cannot see the certificate {where} serves: no Secret"
            f" {target.config.certificates.secretName} (not cluster mode?)",
            "with certificate files (cert-manager), compare the Certificate's CA with"
            " the caBundle: sidecar-injector certs inspect tls.crt --bundle ca.crt",
        )
    try:
        material = cluster_store.material_of(secret)
    except ValueError as err:
        return report.failed(CA_BUNDLE, f"the Secret's certificate is unreadable: {err}", START)
    if material is None:
        return report.failed(CA_BUNDLE, "the Secret holds no certificate", START)
    chain = issuing.load_certificates(material.leaf.cert_pem)
    leaf = chain[0]
    if not issuing.chains_to(leaf, roots, intermediates=chain[1:], now=target.now):
        return report.failed(
            CA_BUNDLE,
            f"the certificate {where} serves does not chain to the caBundle (or is not"
            " valid now): kube-apiserver refuses the TLS handshake and Pod creation fails",
            "the leader republishes the bundle within seconds; if it stays, check the"
            " injector's logs and the Lease",
        )
    if where not in _dns_names(leaf):
        return report.failed(
            CA_BUNDLE,
            f"the serving certificate does not name {where}, which kube-apiserver checks",
            "set certificates.service and injectorNamespace to the Service's name and"
            " namespace, then restart the injector",
        )
    return report.passed(
        CA_BUNDLE, f"the caBundle verifies the certificate {where} serves (from the Secret)"
    )


def _served_by_url(target: Target, url: str, roots: list[x509.Certificate]) -> report.Check:
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname or "", parts.port or 443
    context = ssl.create_default_context(cadata=issuing.pem_bundle(roots).decode("ascii"))
    try:
        with (
            socket.create_connection((host, port), timeout=target.tls_timeout) as sock,
            context.wrap_socket(sock, server_hostname=host),
        ):
            pass
    except ssl.SSLCertVerificationError as err:
        return report.failed(
            CA_BUNDLE,
            f"{url} serves a certificate the caBundle does not verify ({err.verify_message})",
            "restart serve --webhook-url with the certificate directory whose ca.crt was"
            " published, or re-register",
        )
    except OSError as err:
        return report.warned(
            CA_BUNDLE,
            f"cannot complete a TLS handshake with {url} from here: {err.strerror or err}",
            "check from a machine that reaches the URL as kube-apiserver does",
        )
    return report.passed(CA_BUNDLE, f"the caBundle verifies the certificate {url} serves")


def ca_bundle(target: Target, snapshot: Snapshot, secret: Any) -> list[report.Check]:
    ours = snapshot.configuration(target.webhook_name)
    checks: dict[str, report.Check] = {}
    for hook in (ours or {}).get("webhooks") or []:
        config = hook.get("clientConfig") or {}
        key = repr(sorted(config.items()))
        if key in checks:
            continue
        try:
            roots = _bundle(hook)
        except ValueError as err:
            message = f"webhook {hook.get('name')} {err}: kube-apiserver cannot verify us"
            checks[key] = report.failed(CA_BUNDLE, message, START)
            continue
        if config.get("url"):
            checks[key] = _served_by_url(target, str(config["url"]), roots)
        else:
            checks[key] = _served_by_service(target, config.get("service") or {}, roots, secret)
    return list(checks.values())


def _lease(target: Target, lease: Any) -> report.Check:
    name = target.config.certificates.leaseName
    holder, expires = leader.holder(lease), leader.expires_at(lease)
    renew = "check the injector's Pods and their logs (kubectl -n"
    renew += f" {target.namespace} get pods)"
    if not holder or expires is None:
        return report.warned(LEASE, f"Lease {name} is held by no replica", renew)
    if expires < target.now:
        return report.warned(
            LEASE,
            f"Lease {name} expired at {expires:%Y-%m-%dT%H:%M:%SZ} (held by {holder}):"
            " no replica renews the certificates now",
            renew,
        )
    return report.passed(LEASE, f"Lease {name} is held by {holder}, renewed in time")


def _secret(target: Target, secret: Any) -> report.Check:
    name = target.config.certificates.secretName
    try:
        material = cluster_store.material_of(secret)
    except ValueError as err:
        return report.failed(SECRET, f"Secret {name} is unusable: {err}", START)
    if material is None:
        return report.failed(SECRET, f"no Secret {name}: the replicas have nothing to serve", START)
    until = material.leaf.cert.not_valid_after_utc
    if not issuing.valid_at(material.leaf.cert, target.now):
        return report.failed(
            SECRET,
            f"the serving certificate in Secret {name} is not valid now"
            f" (valid until {until:%Y-%m-%dT%H:%M:%SZ})",
            "check the leader's logs: it renews the certificate well before expiry",
        )
    return report.passed(
        SECRET,
        f"Secret {name} holds {report.counted(len(material.bundle), 'CA')} and a serving"
        f" certificate valid until {until:%Y-%m-%dT%H:%M:%SZ}",
    )


def lease_and_secret(target: Target) -> tuple[list[report.Check], Any]:
    """The Lease and Secret lines, and the Secret (None: not there) for the caBundle check.
    Neither there: not cluster mode, one warning."""
    certificates, namespace = target.config.certificates, target.namespace
    cluster: kubeapi.Cluster = target.cluster
    lease = cluster.get_lease(namespace, certificates.leaseName)
    secret = cluster.get_secret(namespace, certificates.secretName)
    if lease is None and secret is None:
        message = (
            f"no Lease {certificates.leaseName} and no Secret {certificates.secretName} in"
            f" {namespace}: not cluster mode (certificate files?), or it never started"
        )
        return [report.warned(LEASE, message, START)], None
    return [_lease(target, lease), _secret(target, secret)], secret
