"""The workloads of a namespace whose Pods labelling it would change, each with its Pod
template and how many Pods it keeps: Deployments, StatefulSets, DaemonSets, ReplicaSets
and Jobs that none of these owns, CronJobs, and bare Pods.

Pods come from the template x replicas, not from what runs: a Deployment at 0 replicas
is listed and adds nothing. A DaemonSet has a Pod per node it selects, or `None`
(unknown) when the nodes cannot be read. A Job keeps `parallelism` Pods (at most its
remaining completions) until it has finished; a CronJob the `parallelism` of its Job
template, none while suspended.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from injector.core import workload_identity
from injector.planning import nodes as node_selection

# Kind -> (apiVersion, where the Pod template is). Listed items carry no kind.
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Deployment": ("apps/v1", ("spec", "template")),
    "StatefulSet": ("apps/v1", ("spec", "template")),
    "DaemonSet": ("apps/v1", ("spec", "template")),
    "ReplicaSet": ("apps/v1", ("spec", "template")),
    "Job": ("batch/v1", ("spec", "template")),
    "CronJob": ("batch/v1", ("spec", "jobTemplate", "spec", "template")),
    "Pod": ("v1", ()),
}
# A ReplicaSet, Job or Pod whose controller is one of these is that controller's Pods.
OWNERS = {
    "ReplicaSet": frozenset({"Deployment"}),
    "Job": frozenset({"CronJob"}),
    "Pod": frozenset({"ReplicaSet", "StatefulSet", "DaemonSet", "Job"}),
}
FINISHED_PHASES = frozenset({"Succeeded", "Failed"})


@dataclass(frozen=True)
class Workload:
    kind: str
    name: str
    template: Mapping[str, Any] | None  # None: the object has no Pod template
    pods: int | None  # None: not known (a DaemonSet whose nodes cannot be read)
    identity: workload_identity.Workload

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}"


def _count(value: Any, default: int) -> int:
    return (
        value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default
    )


def _job_pods(spec: Mapping[str, Any], status: Mapping[str, Any]) -> int:
    conditions = status.get("conditions") or []
    if any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in conditions
    ):
        return 0
    parallelism = _count(spec.get("parallelism"), 1)
    completions = spec.get("completions")
    if isinstance(completions, int) and not isinstance(completions, bool):
        parallelism = min(parallelism, max(0, completions - _count(status.get("succeeded"), 0)))
    return parallelism


def _pods(
    kind: str, obj: Mapping[str, Any], template: Mapping[str, Any], nodes: Sequence[Any] | None
) -> int | None:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        return _count(spec.get("replicas"), 1)
    if kind == "DaemonSet":
        return None if nodes is None else node_selection.count(template.get("spec") or {}, nodes)
    if kind == "Job":
        return _job_pods(spec, status)
    if kind == "CronJob":
        job = (spec.get("jobTemplate") or {}).get("spec") or {}
        return 0 if spec.get("suspend") is True else _job_pods(job, {})
    return 1


def _template(obj: Mapping[str, Any], path: tuple[str, ...]) -> Mapping[str, Any] | None:
    holder: Any = obj
    for key in path:
        holder = holder.get(key) if isinstance(holder, Mapping) else None
    return holder if isinstance(holder, Mapping) else None


def _owned(kind: str, obj: Mapping[str, Any]) -> bool:
    owner = workload_identity.controller_ref(obj.get("metadata"))
    return owner is not None and owner.get("kind") in OWNERS.get(kind, frozenset())


def _skipped(kind: str, obj: Mapping[str, Any]) -> bool:
    if _owned(kind, obj):
        return True
    return kind == "Pod" and (obj.get("status") or {}).get("phase") in FINISHED_PHASES


def collect(
    listed: Mapping[str, Iterable[Mapping[str, Any]]], nodes: Sequence[Any] | None
) -> list[Workload]:
    """The workloads among the listed objects (kind -> items), in the order of KINDS
    and then by name. `nodes` None: the nodes could not be read."""
    found = []
    for kind, (api_version, path) in KINDS.items():
        items = sorted(
            listed.get(kind) or [], key=lambda o: str((o.get("metadata") or {}).get("name"))
        )
        for item in items:
            obj = {**item, "kind": kind, "apiVersion": api_version}
            if _skipped(kind, obj):
                continue
            template = _template(obj, path)
            name = str((obj.get("metadata") or {}).get("name", ""))
            pods = 0 if template is None else _pods(kind, obj, template, nodes)
            identity = workload_identity.of_object(obj)
            found.append(Workload(kind, name, template, pods, identity))
    return found
