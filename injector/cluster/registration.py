"""The injector's MutatingWebhookConfiguration, built in code, and registering it.

`webhook_configuration` renders exactly the webhooks of
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

The rendering follows the API server's version: `matchConditions` only for 1.28 and
later (manifests/components/match-conditions adds the same to the manifest there). As the
publisher applies only the caBundle, that reaches a cluster with the object's creation
(the developer registration) or with the manifest, not with a later rotation.
"""

from __future__ import annotations

import base64
import ipaddress
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any

from injector.cluster import kubeapi
from injector.core import grammar, names

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
# Webhook matchConditions: alpha and off by default in 1.27 (the API server drops them
# silently), beta and on by default in 1.28, GA in 1.30. Older or unknown servers get
# none: the in-process policy skips host-network and mirror Pods all the same.
MATCH_CONDITIONS_SINCE = (1, 28)
# Istio's entries for a revision (istio.io/rev), its tags in the same list of values.
REV_NAMESPACE_WEBHOOK = "rev.namespace.sidecar-injector.io"
REV_OBJECT_WEBHOOK = "rev.object.sidecar-injector.io"
MATCH_CONDITIONS = (
    ("exclude-host-network", "!has(object.spec.hostNetwork) || object.spec.hostNetwork != true"),
    (
        "exclude-mirror-pods",
        f"!has(object.metadata.annotations) || !('{names.MIRROR_POD}'"
        " in object.metadata.annotations)",
    ),
)

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
    try:
        return grammar.parse_object_name(name)
    except grammar.GrammarError:
        raise ValueError(
            f"{name!r} is not a valid name (lowercase DNS subdomain, <= 253)"
        ) from None


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
    namespace_labels: list[dict[str, Any]],
    pod_labels: list[dict[str, Any]],
    excluded: list[str],
    match_conditions: bool,
) -> dict[str, Any]:
    by_name = {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": excluded}
    conditions = [{"name": n, "expression": e} for n, e in MATCH_CONDITIONS]
    return {
        "name": name,
        "clientConfig": client_config,
        "namespaceSelector": {"matchExpressions": [*namespace_labels, by_name]},
        "objectSelector": {"matchExpressions": pod_labels},
        "rules": [
            {
                "operations": ["CREATE"],
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "resources": ["pods"],
                "scope": "Namespaced",
            }
        ],
        **({"matchConditions": conditions} if match_conditions else {}),
        "admissionReviewVersions": ["v1", "v1beta1"],
        # An Event may be sent about a real call, never about a dry run.
        "sideEffects": "NoneOnDryRun",
        "timeoutSeconds": 5,
        "reinvocationPolicy": "IfNeeded",
        "failurePolicy": "Fail",
        "matchPolicy": "Equivalent",
    }


def _label(key: str, operator: str, *values: str) -> dict[str, Any]:
    return {"key": key, "operator": operator, **({"values": list(values)} if values else {})}


def _entries(revision: str, tags: Sequence[str]) -> list[tuple[str, list[Any], list[Any]]]:
    """(name, namespace labels, Pod labels) of each webhook, as Istio 1.20.8's chart has
    them for a revision and its tags: the namespace./object. entries only where the
    revision (or a tag) is "default"."""
    injection, rev = names.NAMESPACE_INJECTION_LABEL, names.REVISION
    ours = list(dict.fromkeys([revision, *tags]))
    not_opted_out = _label(names.INJECT, "NotIn", "false")
    entries = []
    if "default" in ours:
        entries += [
            (NAMESPACE_WEBHOOK, [_label(injection, "In", "enabled")], [not_opted_out]),
            (
                OBJECT_WEBHOOK,
                [_label(injection, "DoesNotExist"), _label(rev, "DoesNotExist")],
                [_label(names.INJECT, "In", "true"), _label(rev, "DoesNotExist")],
            ),
        ]
    return [
        *entries,
        (
            REV_NAMESPACE_WEBHOOK,
            [_label(rev, "In", *ours), _label(injection, "DoesNotExist")],
            [not_opted_out],
        ),
        (
            REV_OBJECT_WEBHOOK,
            [_label(rev, "DoesNotExist"), _label(injection, "DoesNotExist")],
            [not_opted_out, _label(rev, "In", *ours)],
        ),
    ]


def webhook_configuration(
    *,
    name: str = DEFAULT_NAME,
    namespace: str,
    service: str,
    url: str | None,
    ca_bundle_pem: bytes,
    system_namespaces: Sequence[str] = SYSTEM_NAMESPACES,
    server_version: tuple[int, int] | None = None,
    revision: str = "default",
    tags: Sequence[str] = (),
) -> dict[str, Any]:
    """The whole MutatingWebhookConfiguration: the manifest's webhooks for `revision` and
    its `tags`, calling `url` when given (else the Service `service` in `namespace`),
    trusting the PEM bundle. Every webhook excludes the system namespaces and
    `namespace`, ours. With matchConditions only for a `server_version` that has them on
    (None: not known)."""
    client_config = _client_config(url, service, namespace, ca_bundle_pem)
    excluded = list(dict.fromkeys([*system_namespaces, namespace]))
    conditions = server_version is not None and server_version >= MATCH_CONDITIONS_SINCE
    webhooks = [
        _webhook(
            hook,
            dict(client_config),
            namespace_labels=namespace_labels,
            pod_labels=pod_labels,
            excluded=excluded,
            match_conditions=conditions,
        )
        for hook, namespace_labels, pod_labels in _entries(revision, tags)
    ]
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": check_name(name)},
        "webhooks": webhooks,
    }


def renderer(
    *,
    name: str,
    namespace: str,
    service: str,
    url: str | None,
    system_namespaces: Sequence[str] = SYSTEM_NAMESPACES,
    server_version: Callable[[], tuple[int, int] | None] = lambda: None,
    revision: str = "default",
    tags: Sequence[str] = (),
) -> Render:
    """`webhook_configuration` with everything but the CA bundle fixed: what the
    certificate publisher calls with each new bundle. `server_version` is asked at
    each rendering, so the next apply after an upgrade to 1.28 has matchConditions."""
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
            server_version=server_version(),
            revision=revision,
            tags=tags,
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
