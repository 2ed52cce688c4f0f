"""istiod's MutatingWebhookConfigurations as Istio 1.20.8 registers them, as data.

Read from the chart at tag 1.20.8 (manifests/charts/istio-control/istio-discovery/
templates/mutatingwebhook.yaml and revision-tags.yaml) rendered for the default revision
in istio-system: configuration `istio-sidecar-injector` (the chart) with the entries
rev.namespace., rev.object., namespace. and object.sidecar-injector.io, and
`istio-revision-tag-default` (what `istioctl install` and `istioctl tag set default`
register) with the same four. `deactivated` is what `istioctl tag set default` makes of
the chart's configuration: every selector `istio.io/deactivated: never-match`.
"""

from __future__ import annotations

import copy
from typing import Any

NEVER_MATCH = {"matchLabels": {"istio.io/deactivated": "never-match"}}


def _expressions(*items: tuple[str, str, list[str] | None]) -> dict[str, Any]:
    return {
        "matchExpressions": [
            {"key": k, "operator": op, **({"values": v} if v is not None else {})}
            for k, op, v in items
        ]
    }


def _hook(prefix: str, namespace: dict[str, Any], pod: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": f"{prefix}sidecar-injector.istio.io",
        "clientConfig": {
            "service": {"name": "istiod", "namespace": "istio-system", "path": "/inject",
                        "port": 443},
            "caBundle": "",
        },
        "sideEffects": "None",
        "rules": [
            {"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
             "resources": ["pods"]}
        ],
        "failurePolicy": "Fail",
        "reinvocationPolicy": "Never",
        "admissionReviewVersions": ["v1beta1", "v1"],
        "namespaceSelector": namespace,
        "objectSelector": pod,
    }  # fmt: skip


REV, INJECTION, INJECT = "istio.io/rev", "istio-injection", "sidecar.istio.io/inject"


def _absent(key: str) -> tuple[str, str, None]:
    return key, "DoesNotExist", None


def _webhooks(revision: str) -> list[dict[str, Any]]:
    not_disabled = (INJECT, "NotIn", ["false"])
    return [
        _hook(
            "rev.namespace.",
            _expressions((REV, "In", [revision]), _absent(INJECTION)),
            _expressions(not_disabled),
        ),
        _hook(
            "rev.object.",
            _expressions(_absent(REV), _absent(INJECTION)),
            _expressions(not_disabled, (REV, "In", [revision])),
        ),
        _hook(
            "namespace.",
            _expressions((INJECTION, "In", ["enabled"])),
            _expressions(not_disabled),
        ),
        _hook(
            "object.",
            _expressions(_absent(INJECTION), _absent(REV)),
            _expressions((INJECT, "In", ["true"]), _absent(REV)),
        ),
    ]


def sidecar_injector() -> dict[str, Any]:
    """The chart's own configuration, default revision, in istio-system."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {
            "name": "istio-sidecar-injector",
            "labels": {"istio.io/rev": "default", "app": "sidecar-injector"},
        },
        "webhooks": _webhooks("default"),
    }


def revision_tag_default() -> dict[str, Any]:
    """The revision tag `default` (istioctl install, istioctl tag set default)."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {
            "name": "istio-revision-tag-default",
            "labels": {"istio.io/tag": "default", "istio.io/rev": "default"},
        },
        "webhooks": _webhooks("default"),
    }


def deactivated(configuration: dict[str, Any]) -> dict[str, Any]:
    """`configuration` with every webhook's selectors set to never match."""
    result = copy.deepcopy(configuration)
    for hook in result["webhooks"]:
        hook["namespaceSelector"] = copy.deepcopy(NEVER_MATCH)
        hook["objectSelector"] = copy.deepcopy(NEVER_MATCH)
    return result
