"""`plan`: read what labelling a namespace would touch, judge it, print it.

Only lists and gets, one namespace at a time: the namespace, its workloads, bare Pods,
LimitRanges and ResourceQuotas, and the nodes once (for DaemonSets; when listing them is
forbidden, a DaemonSet's Pods are unknown). The API server's version says whether
sidecars would be native, as the webhook asks it. Judging is injector.planning's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TextIO

from injector.cluster import kubeapi, namespace_cache, server_version
from injector.core.engine import Engine
from injector.planning import namespace_plan, quantities, report, workloads

# Resource listed -> the kind its items are.
WORKLOAD_RESOURCES = {
    "deployments": "Deployment",
    "statefulsets": "StatefulSet",
    "daemonsets": "DaemonSet",
    "replicasets": "ReplicaSet",
    "jobs": "Job",
    "cronjobs": "CronJob",
    "pods": "Pod",
}


class PlanError(Exception):
    """The plan cannot be made (a namespace that does not exist, a refused list)."""


class _Nodes:
    """The cluster's nodes, listed once when a DaemonSet needs them; None if forbidden."""

    def __init__(self, cluster: kubeapi.Cluster) -> None:
        self.cluster, self.listed = cluster, False
        self.items: list[dict[str, Any]] | None = None

    def get(self) -> list[dict[str, Any]] | None:
        if not self.listed:
            self.listed = True
            try:
                self.items = self.cluster.list_nodes()
            except kubeapi.ApiError as err:
                if err.status != 403:
                    raise
        return self.items


def _listed(cluster: kubeapi.Cluster, resource: str, namespace: str) -> list[dict[str, Any]]:
    try:
        return cluster.list_in_namespace(resource, namespace)
    except kubeapi.ApiError as err:
        if err.status == 0:
            raise
        raise PlanError(f"cannot list {resource} in namespace {namespace}: {err}") from None


def plan_namespace(
    cluster: kubeapi.Cluster, engine: Engine, name: str, *, label: tuple[str, str], nodes: _Nodes
) -> namespace_plan.NamespacePlan:
    found = cluster.get_namespace(name)
    if found is None:
        raise PlanError(f"namespace {name} not found")
    listed = {
        kind: _listed(cluster, resource, name) for resource, kind in WORKLOAD_RESOURCES.items()
    }
    found_workloads = workloads.collect(listed, nodes.get() if listed["DaemonSet"] else None)
    return namespace_plan.plan(
        namespace_cache.from_object(found),
        label=label,
        workloads=found_workloads,
        limit_range_objects=_listed(cluster, "limitranges", name),
        quota_objects=_listed(cluster, "resourcequotas", name),
        engine=engine,
    )


def run(
    cluster: kubeapi.Cluster,
    engine: Engine,
    *,
    namespaces: Sequence[str],
    label: tuple[str, str],
    output: str,
    out: TextIO,
) -> int:
    """Plan each namespace and write the report: 1 when anything would break, else 0.
    Raises PlanError (or kubeapi.ApiError for an unreachable cluster)."""
    engine.native_supported = server_version.native_supported(cluster.version())
    nodes = _Nodes(cluster)
    plans = []
    for name in dict.fromkeys(namespaces):
        try:
            plans.append(plan_namespace(cluster, engine, name, label=label, nodes=nodes))
        except quantities.QuantityError as err:
            raise PlanError(f"namespace {name}: {err}") from None
    out.write(report.render_json(plans) if output == "json" else report.render_text(plans))
    return 0 if all(p.safe for p in plans) else 1
