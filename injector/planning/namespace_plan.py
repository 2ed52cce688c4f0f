"""The plan of one namespace: every workload's Pod template judged by the webhook's own
engine with the namespace's labels as they would be after labelling, then what the
injected Pods would meet: the LimitRanges, the Pod Security `enforce` level and the
ResourceQuotas. Only what the injection changes is a problem: a Pod that breaks a rule
today breaks it whether or not the namespace is labelled.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonpatch

from injector.core import policy
from injector.core.engine import Engine
from injector.planning import limit_ranges, pod_security, quotas, resources
from injector.planning.workloads import Workload

RESOURCE_QUOTA, LIMIT_RANGE, POD_SECURITY, INJECTION = (
    "ResourceQuota",
    "LimitRange",
    "PodSecurity",
    "Injection",
)


@dataclass(frozen=True)
class Problem:
    kind: str  # ResourceQuota | LimitRange | PodSecurity | Injection
    name: str  # the quota's, the LimitRange's, the enforce level, or the reason code
    workload: str  # Kind/name
    message: str


@dataclass(frozen=True)
class WorkloadPlan:
    workload: Workload
    result: str  # injected | skipped | denied, as the webhook would answer
    reasons: tuple[str, ...]
    per_pod: dict[str, resources.Amounts]  # what one Pod gains, requests and limits

    @property
    def inject(self) -> bool:
        return self.result == "injected"

    @property
    def added(self) -> dict[str, resources.Amounts] | None:
        pods = self.workload.pods
        if pods is None:
            return None
        return {kind: resources.scale(self.per_pod[kind], pods) for kind in resources.KINDS}


@dataclass
class NamespacePlan:
    namespace: str
    label: tuple[str, str]
    workloads: list[WorkloadPlan] = field(default_factory=list)
    quota_lines: list[quotas.Line] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def added(self) -> dict[str, resources.Amounts]:
        known = [w.added for w in self.workloads if w.added is not None]
        return {kind: resources.add(*(a[kind] for a in known)) for kind in resources.KINDS}

    @property
    def safe(self) -> bool:
        return not self.problems


def labelled(ns: policy.Namespace, label: tuple[str, str]) -> policy.Namespace:
    """The namespace as it would be once labelled."""
    return policy.Namespace(ns.name, {**ns.labels, label[0]: label[1]}, ns.annotations)


def _injected(
    engine: Engine, template: Mapping[str, Any], ns: policy.Namespace, workload: Workload
) -> tuple[Any, Any]:
    """(the webhook's outcome, the Pod template as injected or None)."""
    pod = copy.deepcopy(dict(template))
    outcome = engine.inject(
        pod, namespace=ns.name, ns=ns, remember=False, workload=workload.identity
    )
    if outcome.result != "injected":
        return outcome, None
    return outcome, jsonpatch.apply_patch(pod, outcome.ops or [])


def _spec(pod: Any) -> Mapping[str, Any]:
    spec = pod.get("spec") if isinstance(pod, Mapping) else None
    return spec if isinstance(spec, Mapping) else {}


def _limit_range_problems(
    label: str, before: Mapping[str, Any], after: Mapping[str, Any], ranges: Sequence[Any]
) -> list[Problem]:
    known = {v.key for v in limit_ranges.judge(before, ranges)}
    return [
        Problem(LIMIT_RANGE, v.limit_range, label, _where(v) + v.message)
        for v in limit_ranges.judge(after, ranges)
        if v.key not in known
    ]


def _where(violation: limit_ranges.Violation) -> str:
    return "" if violation.container is None else f"container {violation.container}: "


def _pod_security_problem(
    label: str, template: Mapping[str, Any], would_be: Any, level: str, result: str
) -> list[Problem]:
    known = {(f.check, d) for f in pod_security.judge(template, level) for d in f.details}
    new = [
        f"{f.check} ({'; '.join(d for d in f.details if (f.check, d) not in known)})"
        for f in pod_security.judge(would_be, level)
        if any((f.check, d) not in known for d in f.details)
    ]
    if not new:
        return []
    head = f"{pod_security.ENFORCE}={level}"
    if result != "injected":
        head += f": the webhook would not inject ({policy.POD_SECURITY_LEVEL}), as injected"
    head += " the Pod would be refused: "
    return [Problem(POD_SECURITY, level, label, head + "; ".join(new))]


def _judge(
    engine: Engine, ns: policy.Namespace, workload: Workload, ranges: Sequence[Any]
) -> tuple[WorkloadPlan, list[Problem], quotas.Increment | None]:
    template = workload.template or {}
    outcome, injected = _injected(engine, template, ns, workload)
    problems = []
    if outcome.result == "denied":
        code = outcome.reasons[0] if outcome.reasons else ""
        problems.append(Problem(INJECTION, code, workload.label, outcome.message or code))
    would_be = injected
    if injected is None and policy.POD_SECURITY_LEVEL in outcome.reasons:
        # To say what Pod Security would refuse, inject as if it were not enforced.
        labels = {k: v for k, v in ns.labels.items() if k != pod_security.ENFORCE}
        _outcome, would_be = _injected(
            engine, template, policy.Namespace(ns.name, labels, ns.annotations), workload
        )
    before = limit_ranges.with_defaults(_spec(template), ranges)
    per_pod: dict[str, resources.Amounts] = {kind: {} for kind in resources.KINDS}
    increment = None
    if injected is not None:
        after = limit_ranges.with_defaults(_spec(injected), ranges)
        was, will = resources.totals(before), resources.totals(after)
        per_pod = {kind: resources.subtract(will[kind], was[kind]) for kind in resources.KINDS}
        problems += _limit_range_problems(workload.label, _spec(template), _spec(injected), ranges)
        increment = quotas.Increment(workload.label, workload.pods or 0, before, after)
    level = pod_security.level_of(ns.labels)
    if would_be is not None and level != pod_security.PRIVILEGED:
        problems += _pod_security_problem(workload.label, template, would_be, level, outcome.result)
    plan = WorkloadPlan(workload, outcome.result, tuple(outcome.reasons), per_pod)
    return plan, problems, increment


def plan(
    ns: policy.Namespace,
    *,
    label: tuple[str, str],
    workloads: Sequence[Workload],
    limit_range_objects: Sequence[Mapping[str, Any]],
    quota_objects: Sequence[Mapping[str, Any]],
    engine: Engine,
) -> NamespacePlan:
    """What labelling `ns` with `label` would do to its workloads, LimitRanges, Pod
    Security level and ResourceQuotas."""
    after = labelled(ns, label)
    result = NamespacePlan(ns.name, label)
    increments = []
    for workload in workloads:
        judged, problems, increment = _judge(engine, after, workload, limit_range_objects)
        result.workloads.append(judged)
        result.problems += problems
        if increment is not None:
            increments.append(increment)
        if workload.pods is None:
            result.notes.append(
                f"{workload.label}: Pods unknown (the nodes cannot be listed); not in the totals"
            )
    if workloads and not any(w.inject for w in result.workloads):
        result.notes.append("no workload would be injected")
    for quota in quota_objects:
        for line in quotas.judge(quota, increments):
            result.quota_lines.append(line)
            if line.exceeded:
                result.problems.append(
                    Problem(RESOURCE_QUOTA, line.quota, line.workload, line.message())
                )
    return result
