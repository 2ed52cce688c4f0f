"""The injector's MutatingWebhookConfiguration, built in code, and registering it.

`webhook_configuration` renders exactly the two webhooks of
manifests/mutatingwebhookconfiguration.yaml (tests/cluster/test_registration.py checks that the
default rendering equals the file plus the caBundle, so the two cannot drift apart).
Two ways to reach the injector:
- in a cluster, `clientConfig.service` (the Service in front of the Deployment);
- from a laptop (`serve --webhook-url https://HOST:PORT/inject`), `clientConfig.url`.

The certificate publisher applies only the caBundle of our entries (`ca_bundle_only`),
as field manager "sidecar-injector": rules, selectors and failurePolicy stay whoever set
them (the manifest, or an operator's emergency `failurePolicy: Ignore`). The whole
rendering is applied only to create the object, by the developer registration
(`register`, or the publisher when the object does not exist), as a field manager of its
own, so that the publisher's later caBundle-only applies never drop the other fields.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any

from injector.cluster import kubeapi
from injector.core import names

DEFAULT_NAME = "sidecar-injector"
# The field manager that creates the whole object (the publisher's is "sidecar-injector").
REGISTRATION_MANAGER = "sidecar-injector-registration"
WEBHOOK_PATH = "/inject"
SERVICE_PORT = 443
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
# The webhooks are named like the manifest's; kube-apiserver orders webhooks by the
# configuration's name, then by their order in it.
NAMESPACE_WEBHOOK = "namespace.sidecar-injector.io"
OBJECT_WEBHOOK = "object.sidecar-injector.io"
MATCH_CONDITIONS = (
    ("exclude-host-network", "!has(object.spec.hostNetwork) || object.spec.hostNetwork != true"),
    (
        "exclude-mirror-pods",
        f"!has(object.metadata.annotations) || !('{names.MIRROR_POD}'"
        " in object.metadata.annotations)",
    ),
)
# A DNS-1123 subdomain, which an object's name must be.
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")

Render = Callable[[bytes], dict[str, Any]]


class RegistrationError(Exception):
    """The webhook configuration could not be registered; the message says why."""


def check_webhook_url(url: str) -> str:
    """Return `url` if kube-apiserver would accept it as clientConfig.url (https, a host,
    no user:pass, no query, no fragment) and it ends at our /inject; else ValueError."""
    if not url.isascii() or not url.isprintable() or " " in url:
        raise ValueError(f"webhook URL {url!r} must be printable ASCII without spaces")
    parts = urllib.parse.urlsplit(url)
    problems = []
    if parts.scheme != "https":
        problems.append("its scheme must be https (kube-apiserver calls webhooks over TLS)")
    if not parts.hostname:
        problems.append("it must name a host")
    if "@" in parts.netloc:
        problems.append("user information (user:pass@) is not permitted")
    if "?" in url:
        problems.append("query parameters are not permitted")
    if "#" in url:
        problems.append("a fragment is not permitted")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        problems.append("its port must be a number from 0 to 65535")
    if not parts.path.endswith(WEBHOOK_PATH):
        problems.append(f"its path must end with {WEBHOOK_PATH}, where the injector serves")
    if problems:
        raise ValueError(f"webhook URL {url}: " + "; ".join(problems))
    return url


def url_names(url: str) -> tuple[list[str], list[str]]:
    """The (DNS names, IPs) the serving certificate needs so that kube-apiserver can
    verify it at `url`: the URL's host goes into one of the two lists."""
    host = urllib.parse.urlsplit(check_webhook_url(url)).hostname or ""
    try:
        return [], [str(ipaddress.ip_address(host))]
    except ValueError:
        return [host], []


def check_name(name: str) -> str:
    """Return `name` if it is a valid object name (DNS-1123 subdomain); else ValueError."""
    if len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name):
        raise ValueError(f"{name!r} is not a valid name (lowercase DNS subdomain, <= 253)")
    return name


def _client_config(
    url: str | None, service: str, namespace: str, ca_bundle_pem: bytes
) -> dict[str, Any]:
    if url is not None:
        target: dict[str, Any] = {"url": check_webhook_url(url)}
    else:
        path = {"name": service, "namespace": namespace, "path": WEBHOOK_PATH}
        target = {"service": {**path, "port": SERVICE_PORT}}
    return {**target, "caBundle": base64.b64encode(ca_bundle_pem).decode("ascii")}


def _webhook(
    name: str,
    client_config: dict[str, Any],
    *,
    namespace_label: dict[str, Any],
    pod_label: dict[str, Any],
    excluded: list[str],
) -> dict[str, Any]:
    by_name = {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": excluded}
    return {
        "name": name,
        "clientConfig": client_config,
        "namespaceSelector": {"matchExpressions": [namespace_label, by_name]},
        "objectSelector": {"matchExpressions": [pod_label]},
        "rules": [
            {
                "operations": ["CREATE"],
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "resources": ["pods"],
                "scope": "Namespaced",
            }
        ],
        "matchConditions": [{"name": n, "expression": e} for n, e in MATCH_CONDITIONS],
        "admissionReviewVersions": ["v1", "v1beta1"],
        # An Event may be sent about a real call, never about a dry run.
        "sideEffects": "NoneOnDryRun",
        "timeoutSeconds": 5,
        "reinvocationPolicy": "IfNeeded",
        "failurePolicy": "Fail",
        "matchPolicy": "Equivalent",
    }


def webhook_configuration(
    *,
    name: str = DEFAULT_NAME,
    namespace: str,
    service: str,
    url: str | None,
    ca_bundle_pem: bytes,
    system_namespaces: Sequence[str] = SYSTEM_NAMESPACES,
) -> dict[str, Any]:
    """The whole MutatingWebhookConfiguration: the manifest's two webhooks, calling
    `url` when given (else the Service `service` in `namespace`), trusting the PEM
    bundle. Both webhooks exclude the system namespaces and `namespace`, ours."""
    client_config = _client_config(url, service, namespace, ca_bundle_pem)
    excluded = list(dict.fromkeys([*system_namespaces, namespace]))
    label = names.NAMESPACE_INJECTION_LABEL
    by_namespace = _webhook(
        NAMESPACE_WEBHOOK,
        client_config,
        namespace_label={"key": label, "operator": "In", "values": ["enabled"]},
        pod_label={"key": names.INJECT, "operator": "NotIn", "values": ["false"]},
        excluded=excluded,
    )
    by_object = _webhook(
        OBJECT_WEBHOOK,
        dict(client_config),
        namespace_label={"key": label, "operator": "DoesNotExist"},
        pod_label={"key": names.INJECT, "operator": "In", "values": ["true"]},
        excluded=excluded,
    )
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": check_name(name)},
        "webhooks": [by_namespace, by_object],
    }


def renderer(
    *,
    name: str,
    namespace: str,
    service: str,
    url: str | None,
    system_namespaces: Sequence[str] = SYSTEM_NAMESPACES,
) -> Render:
    """`webhook_configuration` with everything but the CA bundle fixed: what the
    certificate publisher calls with each new bundle."""
    check_name(name)
    if url is not None:
        check_webhook_url(url)
    excluded = tuple(system_namespaces)

    def render(ca_bundle_pem: bytes) -> dict[str, Any]:
        return webhook_configuration(
            name=name,
            namespace=namespace,
            service=service,
            url=url,
            ca_bundle_pem=ca_bundle_pem,
            system_namespaces=excluded,
        )

    return render


def ca_bundle_only(configuration: dict[str, Any]) -> dict[str, Any]:
    """What the publisher applies: each of our entries' name and caBundle, nothing else."""
    return {
        "apiVersion": configuration["apiVersion"],
        "kind": configuration["kind"],
        "metadata": {"name": configuration["metadata"]["name"]},
        "webhooks": [
            {"name": hook["name"], "clientConfig": {"caBundle": hook["clientConfig"]["caBundle"]}}
            for hook in configuration["webhooks"]
        ],
    }


def register(cluster: kubeapi.Cluster, render: Render, ca_bundle_pem: bytes) -> dict[str, Any]:
    """Server-side apply the rendered configuration once (creating it if needed, which
    takes `create` as well as `patch` rights); RegistrationError with the reason.
    (Rendering itself accepts any bytes: the publisher renders an empty bundle once to
    learn the configuration's name and entries, and never applies it.)"""
    if b"-----BEGIN CERTIFICATE-----" not in ca_bundle_pem:
        raise ValueError("the CA bundle holds no PEM certificate")
    desired = render(ca_bundle_pem)
    name = desired["metadata"]["name"]
    try:
        return cluster.apply_webhook_config(desired, field_manager=REGISTRATION_MANAGER)
    except kubeapi.ApiError as err:
        hint = {
            403: "the credentials may not create or patch this MutatingWebhookConfiguration",
            422: "the existing object may carry a clientConfig another manager owns"
            " (e.g. a service where we set a url); delete it or choose another name",
        }.get(err.status, "")
        detail = f"{err}; {hint}" if hint else str(err)
        message = f"cannot register MutatingWebhookConfiguration {name}: {detail}"
        raise RegistrationError(message) from None
