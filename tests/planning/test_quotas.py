"""ResourceQuotas against the sidecars' increase: by how much, and at which Pod."""

from __future__ import annotations

from typing import Any

import pytest

from injector.planning import quantities, quotas


def _spec(*requests: dict[str, str], **extra: Any) -> dict[str, Any]:
    containers = [{"name": f"c{i}", "resources": {"requests": r}} for i, r in enumerate(requests)]
    return {"containers": containers, **extra}


APP = {"cpu": "200m", "memory": "256Mi"}
PROXY = {"cpu": "100m", "memory": "128Mi"}


def _quota(hard: dict[str, str], used: dict[str, str], **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "compute"},
        "spec": {"hard": hard, **spec},
        "status": {"used": used},
    }


def _web(pods: int) -> quotas.Increment:
    return quotas.Increment("Deployment/web", pods, _spec(APP), _spec(APP, PROXY))


def test_the_replica_that_first_overflows_is_named() -> None:
    [line] = quotas.judge(
        _quota({"requests.memory": "1Gi"}, {"requests.memory": "768Mi"}), [_web(3)]
    )
    assert line.exceeded
    assert (line.workload, line.replica) == ("Deployment/web", 3)
    assert quantities.render(line.increase) == "384Mi"
    assert line.message().endswith("over by 128Mi; the 3rd Pod of Deployment/web overflows it")


def test_the_overflow_is_found_across_workloads_in_order() -> None:
    api = quotas.Increment("Deployment/api", 2, _spec(APP), _spec(APP, PROXY))
    [line] = quotas.judge(_quota({"cpu": "1"}, {"cpu": "500m"}), [api, _web(4)])
    # 500m of room: api's two Pods take 200m, web's 1st-3rd the next 300m, its 4th overflows.
    assert (line.workload, line.replica) == ("Deployment/web", 4)


def test_reaching_hard_exactly_is_not_exceeding_it() -> None:
    [line] = quotas.judge(_quota({"requests.cpu": "1"}, {"requests.cpu": "700m"}), [_web(3)])
    assert not line.exceeded and line.workload == ""


def test_a_quota_already_over_overflows_at_the_first_pod() -> None:
    [line] = quotas.judge(_quota({"requests.cpu": "1"}, {"requests.cpu": "2"}), [_web(2)])
    assert (line.workload, line.replica) == ("Deployment/web", 1)


@pytest.mark.parametrize(
    ("resource", "counted"),
    [
        pytest.param("cpu", "300m", id="cpu-alias"),
        pytest.param("requests.cpu", "300m", id="requests-cpu"),
        pytest.param("memory", "384Mi", id="memory-alias"),
        pytest.param("pods", None, id="pod-count-untouched"),
        pytest.param("limits.cpu", "0", id="no-limits-added"),
    ],
)
def test_the_compute_resources_a_quota_names(resource: str, counted: str | None) -> None:
    lines = quotas.judge(_quota({resource: "100"}, {}), [_web(3)])
    assert [quantities.render(line.increase) for line in lines] == ([counted] if counted else [])


def test_a_not_best_effort_quota_starts_counting_the_whole_pod() -> None:
    best_effort = quotas.Increment("Deployment/batch", 2, _spec({}), _spec({}, PROXY))
    scoped = _quota({"requests.memory": "1Gi"}, {}, scopes=["NotBestEffort"])
    [line] = quotas.judge(scoped, [best_effort])
    assert quantities.render(line.increase) == "256Mi"
    assert (
        quotas.judge(_quota({"requests.memory": "1Gi"}, {}, scopes=["BestEffort"]), [best_effort])[
            0
        ].increase
        == 0
    )


def test_a_priority_class_scope_counts_only_its_pods() -> None:
    selector = {
        "matchExpressions": [{"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]
    }
    quota = _quota({"requests.cpu": "1"}, {}, scopeSelector=selector)
    high = quotas.Increment("Deployment/h", 1, _spec(APP, priorityClassName="high"),
                            _spec(APP, PROXY, priorityClassName="high"))  # fmt: skip
    assert [quantities.render(x.increase) for x in quotas.judge(quota, [high, _web(5)])] == ["100m"]
