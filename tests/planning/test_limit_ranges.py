"""LimitRanges judged as the LimitRanger does: defaults first, then min, max and the
limit/request ratio, per container and per Pod."""

from __future__ import annotations

from typing import Any

import pytest

from injector.planning import limit_ranges


def _spec(*containers: dict[str, Any], init: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"containers": list(containers), "initContainers": init or []}


def _container(name: str = "app", **resources: dict[str, str]) -> dict[str, Any]:
    return {"name": name, "resources": resources}


def _range(*items: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "sizes"}, "spec": {"limits": list(items)}}


PROXY = _container("istio-proxy", requests={"cpu": "100m", "memory": "128Mi"},
                   limits={"cpu": "2", "memory": "1Gi"})  # fmt: skip


def _messages(spec: dict[str, Any], *items: dict[str, Any]) -> list[str]:
    return [v.message for v in limit_ranges.judge(spec, [_range(*items)])]


def test_a_container_max_below_the_proxy_limit_refuses_the_proxy() -> None:
    found = limit_ranges.judge(
        _spec(PROXY), [_range({"type": "Container", "max": {"memory": "512Mi"}})]
    )
    assert [(v.container, v.resource, v.rule) for v in found] == [("istio-proxy", "memory", "max")]
    assert found[0].message == "maximum memory usage per Container is 512Mi, but limit is 1Gi"


def test_defaults_are_applied_before_the_checks() -> None:
    # The app has no limit: the default (256Mi) is set first, and fits the max.
    item = {"type": "Container", "max": {"memory": "512Mi"}, "default": {"memory": "256Mi"}}
    assert _messages(_spec(_container()), item) == []
    defaulted = limit_ranges.with_defaults(_spec(_container()), [_range(item)])
    assert defaulted["containers"][0]["resources"]["limits"] == {"memory": "256Mi"}


def test_a_max_without_a_default_becomes_the_default_as_the_api_stores_it() -> None:
    item = {"type": "Container", "max": {"cpu": "1"}}
    defaulted = limit_ranges.with_defaults(_spec(_container()), [_range(item)])
    assert defaulted["containers"][0]["resources"] == {
        "limits": {"cpu": "1"}, "requests": {"cpu": "1"}
    }  # fmt: skip


def test_a_container_without_a_request_gets_its_limit_as_request_before_defaults() -> None:
    item = {"type": "Container", "defaultRequest": {"cpu": "10m"}}
    own = _container(limits={"cpu": "500m"})
    defaulted = limit_ranges.with_defaults(_spec(own), [_range(item)])
    assert defaulted["containers"][0]["resources"]["requests"] == {"cpu": "500m"}


@pytest.mark.parametrize(
    ("item", "message"),
    [
        pytest.param(
            {"type": "Container", "min": {"cpu": "200m"}},
            "minimum cpu usage per Container is 200m, but request is 100m",
            id="min-request",
        ),
        pytest.param(
            {"type": "Container", "maxLimitRequestRatio": {"cpu": "4"}},
            "cpu max limit to request ratio per Container is 4, but provided ratio is 20.000000",
            id="ratio",
        ),
        pytest.param(
            {"type": "Pod", "max": {"ephemeral-storage": "1Gi"}},
            "maximum ephemeral-storage usage per Pod is 1Gi. No limit is specified",
            id="max-without-a-limit",
        ),
        pytest.param(
            {"type": "Pod", "max": {"memory": "1Gi"}},
            "maximum memory usage per Pod is 1Gi, but limit is 1536Mi",
            id="pod-total",
        ),
    ],
)
def test_each_constraint_names_what_it_refuses(item: dict[str, Any], message: str) -> None:
    app = _container(
        requests={"cpu": "100m", "memory": "64Mi"}, limits={"cpu": "100m", "memory": "512Mi"}
    )
    assert message in _messages(_spec(app, PROXY), item)


def test_the_pod_total_counts_the_largest_init_container_not_the_sum() -> None:
    init = _container("istio-init", requests={"memory": "40Mi"}, limits={"memory": "1Gi"})
    app = _container(limits={"memory": "256Mi"})
    assert _messages(_spec(app, init=[init]), {"type": "Pod", "max": {"memory": "1Gi"}}) == []
    assert _messages(_spec(app, init=[init]), {"type": "Pod", "max": {"memory": "1023Mi"}}) == [
        "maximum memory usage per Pod is 1023Mi, but limit is 1Gi"
    ]


def test_a_pod_within_every_constraint_passes() -> None:
    item = {"type": "Container", "max": {"memory": "2Gi", "cpu": "4"}, "min": {"cpu": "10m"}}
    assert _messages(_spec(PROXY), item) == []
