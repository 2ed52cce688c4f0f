"""A namespace's ResourceQuotas against what the sidecars add: for each quota and each
compute resource it limits, `used` + the increase against `hard`, and for one exceeded,
by how much and at which Pod it first overflows.

The increase of a workload is, per Pod, what the quota would count for the injected Pod
minus what it counts now, times its Pods. A quota counts a Pod only when the Pod is in
its scopes, so a scoped quota (NotBestEffort, say) may start counting a whole Pod that
the sidecar's requests take out of BestEffort.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from injector.planning import quantities, resources

# Quota resource name -> (requests | limits, resource).
TRACKED = {
    "cpu": ("requests", "cpu"),
    "memory": ("requests", "memory"),
    "ephemeral-storage": ("requests", "ephemeral-storage"),
    **{
        f"{kind}.{name}": (kind, name)
        for kind in resources.KINDS
        for name in ("cpu", "memory", "ephemeral-storage")
    },
}


@dataclass(frozen=True)
class Increment:
    """One workload's Pods: the Pod spec as it is now and as it would be injected (both
    with the LimitRange defaults the API applies)."""

    workload: str
    pods: int
    before: Mapping[str, Any]
    after: Mapping[str, Any]


@dataclass(frozen=True)
class Line:
    """One quota resource: hard, used, the increase and, when exceeded, where."""

    quota: str
    resource: str
    hard: Fraction
    used: Fraction
    increase: Fraction
    workload: str = ""  # the workload whose Pods first overflow it
    replica: int = 0  # ... at that Pod of it (1-based)

    @property
    def exceeded(self) -> bool:
        return self.increase > 0 and self.used + self.increase > self.hard

    def message(self) -> str:
        show = quantities.render
        text = (
            f"{self.resource}: used {show(self.used)} + {show(self.increase)} from the"
            f" sidecars = {show(self.used + self.increase)}, hard {show(self.hard)}"
        )
        if not self.exceeded:
            return text
        over = show(self.used + self.increase - self.hard)
        return (
            f"{text}: over by {over}; the {_nth(self.replica)} Pod of {self.workload} overflows it"
        )


def _nth(number: int) -> str:
    suffix = (
        "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    )
    return f"{number}{suffix}"


def _best_effort(spec: Mapping[str, Any]) -> bool:
    totals = resources.totals(spec)
    return not any(totals["requests"].values()) and not any(totals["limits"].values())


def _selector_matches(expression: Mapping[str, Any], spec: Mapping[str, Any]) -> bool:
    scope, operator = expression.get("scopeName"), expression.get("operator")
    values = expression.get("values") or []
    if scope == "PriorityClass":
        name = spec.get("priorityClassName")
        return {
            "In": name in values,
            "NotIn": name not in values,
            "Exists": bool(name),
            "DoesNotExist": not name,
        }.get(str(operator), True)
    return _in_scope(str(scope), spec) == (operator != "DoesNotExist")


def _in_scope(scope: str, spec: Mapping[str, Any]) -> bool:
    """Whether a quota scope covers the Pod; a scope not known here covers it."""
    terminating = isinstance(spec.get("activeDeadlineSeconds"), int)
    return {
        "Terminating": terminating,
        "NotTerminating": not terminating,
        "BestEffort": _best_effort(spec),
        "NotBestEffort": not _best_effort(spec),
    }.get(scope, True)


def covers(quota: Mapping[str, Any], spec: Mapping[str, Any]) -> bool:
    quota_spec = quota.get("spec") or {}
    scopes = quota_spec.get("scopes") or []
    expressions = (quota_spec.get("scopeSelector") or {}).get("matchExpressions") or []
    return all(_in_scope(str(s), spec) for s in scopes) and all(
        _selector_matches(e, spec) for e in expressions if isinstance(e, Mapping)
    )


def _counted(quota: Mapping[str, Any], spec: Mapping[str, Any], kind: str, name: str) -> Fraction:
    if not covers(quota, spec):
        return Fraction(0)
    return resources.pod(spec, kind).get(name, Fraction(0))


def _line(
    quota: Mapping[str, Any], resource: str, hard: Fraction, increments: Sequence[Increment]
) -> Line:
    used_text = ((quota.get("status") or {}).get("used") or {}).get(resource, "0")
    used = quantities.parse(str(used_text))
    name = str((quota.get("metadata") or {}).get("name", ""))
    kind, what = TRACKED[resource]
    headroom, total, first = hard - used, Fraction(0), ("", 0)
    for step in increments:
        per_pod = _counted(quota, step.after, kind, what) - _counted(quota, step.before, kind, what)
        if per_pod > 0 and not first[0] and total + per_pod * step.pods > headroom:
            replica = max(1, int((headroom - total) // per_pod) + 1)
            first = (step.workload, replica)
        total += per_pod * step.pods
    return Line(name, resource, hard, used, total, *first)


def judge(quota: Mapping[str, Any], increments: Sequence[Increment]) -> list[Line]:
    """A line for each compute resource the quota limits, in the order of its `hard`."""
    hard = (quota.get("spec") or {}).get("hard") or {}
    return [
        _line(quota, resource, quantities.parse(str(value)), increments)
        for resource, value in hard.items()
        if resource in TRACKED
    ]
