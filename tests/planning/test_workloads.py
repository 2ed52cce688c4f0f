"""Which workloads a namespace holds, and how many Pods each keeps."""

from __future__ import annotations

from typing import Any

import pytest

from injector.planning import nodes, workloads

TEMPLATE = {"metadata": {}, "spec": {"containers": [{"name": "app"}]}}


def _obj(name: str, spec: dict[str, Any] | None = None, **metadata: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, **metadata}, "spec": {"template": TEMPLATE, **(spec or {})}}


def _owned_by(kind: str) -> list[dict[str, Any]]:
    return [{"kind": kind, "name": "x", "controller": True}]


def test_pods_and_replica_sets_of_controllers_are_left_to_their_controllers() -> None:
    listed = {
        "Deployment": [_obj("web", {"replicas": 0})],
        "ReplicaSet": [_obj("web-5d", ownerReferences=_owned_by("Deployment")), _obj("lone")],
        "Job": [_obj("nightly-1", ownerReferences=_owned_by("CronJob"))],
        "Pod": [
            {
                "metadata": {"name": "web-5d-a", "ownerReferences": _owned_by("ReplicaSet")},
                "spec": {},
            },
            {"metadata": {"name": "bare"}, "spec": TEMPLATE["spec"]},
            {
                "metadata": {"name": "done"},
                "spec": TEMPLATE["spec"],
                "status": {"phase": "Succeeded"},
            },
        ],
    }
    found = workloads.collect(listed, nodes=[])
    assert [(w.label, w.pods) for w in found] == [
        ("Deployment/web", 0), ("ReplicaSet/lone", 1), ("Pod/bare", 1)
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "spec", "status", "pods"),
    [
        pytest.param("Deployment", {}, {}, 1, id="deployment-default-one"),
        pytest.param("StatefulSet", {"replicas": 4}, {}, 4, id="statefulset"),
        pytest.param(
            "Job", {"parallelism": 5, "completions": 8}, {"succeeded": 6}, 2, id="job-remaining"
        ),
        pytest.param(
            "Job", {}, {"conditions": [{"type": "Complete", "status": "True"}]}, 0, id="job-done"
        ),
    ],
)
def test_pods_come_from_the_spec(
    kind: str, spec: dict[str, Any], status: dict[str, Any], pods: int
) -> None:
    obj = {**_obj("w", spec), "status": status}
    [found] = workloads.collect({kind: [obj]}, nodes=[])
    assert found.pods == pods


def test_a_cron_job_counts_its_job_template_and_none_while_suspended() -> None:
    job = {"jobTemplate": {"spec": {"parallelism": 3, "template": TEMPLATE}}}
    [running] = workloads.collect({"CronJob": [{"metadata": {"name": "c"}, "spec": job}]}, nodes=[])
    [paused] = workloads.collect(
        {"CronJob": [{"metadata": {"name": "c"}, "spec": {**job, "suspend": True}}]}, nodes=[]
    )
    assert (running.pods, paused.pods) == (3, 0)


def _node(
    name: str, labels: dict[str, str] | None = None, taints: list[Any] | None = None
) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


NODES = [
    _node("a", {"pool": "web"}),
    _node("b", {"pool": "web"}, [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]),
    _node("c", {"pool": "db"}),
    _node(
        "d", {"pool": "web"}, [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]
    ),
]


@pytest.mark.parametrize(
    ("spec", "count"),
    [
        pytest.param({}, 3, id="untolerated-taint-excluded"),
        pytest.param({"nodeSelector": {"pool": "web"}}, 2, id="node-selector"),
        pytest.param({"tolerations": [{"operator": "Exists"}]}, 4, id="tolerate-everything"),
        pytest.param(
            {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "pool", "operator": "NotIn", "values": ["web"]}]}]
            }}}},
            1,
            id="required-affinity",
        ),
        pytest.param(
            {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a", "c"]}]}]
            }}}},
            2,
            id="match-fields",
        ),
    ],
)  # fmt: skip
def test_a_daemon_set_has_a_pod_per_node_it_selects_and_tolerates(
    spec: dict[str, Any], count: int
) -> None:
    assert nodes.count(spec, NODES) == count


def test_a_daemon_set_whose_nodes_cannot_be_read_has_unknown_pods() -> None:
    [found] = workloads.collect({"DaemonSet": [_obj("agent")]}, nodes=None)
    assert found.pods is None
