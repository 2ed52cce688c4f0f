"""Which nodes a DaemonSet runs a Pod on: those its Pod template's nodeSelector and
required node affinity select, whose NoSchedule/NoExecute taints it tolerates (with the
tolerations the DaemonSet controller adds to every daemon Pod)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# The DaemonSet controller tolerates these on every daemon Pod.
DAEMON_TOLERATED = frozenset(
    {
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
        "node.kubernetes.io/disk-pressure",
        "node.kubernetes.io/memory-pressure",
        "node.kubernetes.io/pid-pressure",
        "node.kubernetes.io/unschedulable",
    }
)
HOST_NETWORK_TOLERATED = "node.kubernetes.io/network-unavailable"


def _requirement(expression: Mapping[str, Any], values: Mapping[str, str]) -> bool:
    key, operator = str(expression.get("key")), expression.get("operator")
    wanted = [str(v) for v in expression.get("values") or []]
    present = key in values
    if operator == "In":
        return present and values[key] in wanted
    if operator == "NotIn":
        return not present or values[key] not in wanted
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and len(wanted) == 1:
        try:
            have, bound = int(values[key]), int(wanted[0])
        except ValueError:
            return False
        return have > bound if operator == "Gt" else have < bound
    return False


def _term(term: Mapping[str, Any], labels: Mapping[str, str], name: str) -> bool:
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False  # an empty term selects nothing
    return all(_requirement(e, labels) for e in expressions) and all(
        _requirement(f, {"metadata.name": name}) for f in fields
    )


def _tolerates(taint: Mapping[str, Any], tolerations: Iterable[Mapping[str, Any]]) -> bool:
    for toleration in tolerations:
        effect = toleration.get("effect")
        if effect and effect != taint.get("effect"):
            continue
        if toleration.get("operator") == "Exists" and not toleration.get("key"):
            return True
        if toleration.get("key") != taint.get("key"):
            continue
        if toleration.get("operator") == "Exists" or toleration.get("value", "") == taint.get(
            "value", ""
        ):
            return True
    return False


def runs_on(spec: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """Whether a daemon Pod of this Pod spec runs on `node`."""
    metadata = node.get("metadata") or {}
    labels, name = metadata.get("labels") or {}, str(metadata.get("name", ""))
    selector = spec.get("nodeSelector") or {}
    if any(labels.get(k) != v for k, v in selector.items()):
        return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms")
    if terms and not any(_term(t, labels, name) for t in terms):
        return False
    automatic = set(DAEMON_TOLERATED)
    if spec.get("hostNetwork") is True:
        automatic.add(HOST_NETWORK_TOLERATED)
    tolerations = [
        *(spec.get("tolerations") or []),
        *({"key": k, "operator": "Exists"} for k in automatic),
    ]
    taints = (node.get("spec") or {}).get("taints") or []
    return all(
        _tolerates(t, tolerations) for t in taints if t.get("effect") in ("NoSchedule", "NoExecute")
    )


def count(spec: Mapping[str, Any], nodes: Iterable[Mapping[str, Any]]) -> int:
    return sum(1 for node in nodes if runs_on(spec, node))
