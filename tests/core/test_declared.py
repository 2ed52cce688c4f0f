"""Declared istio-proxy/istio-init: merged over the injected container as a strategic
merge does, the declared fields winning."""

from __future__ import annotations

from injector.core import declared

INJECTED = {
    "name": "istio-proxy",
    "image": "proxy:1",
    "args": ["proxy", "sidecar"],
    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
    "ports": [{"containerPort": 15090, "name": "prom"}],
    "resources": {"limits": {"cpu": "2", "memory": "1Gi"}},
    "readinessProbe": {"httpGet": {"port": 15021}, "periodSeconds": 2},
}


def test_declared_fields_win_and_keyed_lists_merge_by_key() -> None:
    merged = declared.merge(
        INJECTED,
        {
            "name": "istio-proxy",
            "image": "auto",
            "args": ["router"],
            "env": [{"name": "B", "value": "x"}, {"name": "C", "value": "3"}],
            "ports": [{"containerPort": 8080}],
            "resources": {"limits": {"cpu": "1"}},
        },
    )
    assert merged["image"] == "proxy:1"
    assert merged["args"] == ["router"]
    assert merged["env"] == [
        {"name": "A", "value": "1"}, {"name": "B", "value": "x"}, {"name": "C", "value": "3"}
    ]  # fmt: skip
    assert merged["ports"] == [{"containerPort": 15090, "name": "prom"}, {"containerPort": 8080}]
    assert merged["resources"] == {"limits": {"cpu": "1", "memory": "1Gi"}}
    assert INJECTED["env"][1]["value"] == "2"


def test_a_declared_probe_handler_replaces_the_injected_one() -> None:
    merged = declared.merge(
        INJECTED, {"name": "istio-proxy", "readinessProbe": {"exec": {"command": ["x"]}}}
    )
    assert merged["readinessProbe"] == {"exec": {"command": ["x"]}, "periodSeconds": 2}


def test_a_declared_image_other_than_auto_wins_and_null_removes() -> None:
    merged = declared.merge(INJECTED, {"name": "istio-proxy", "image": "mine:2", "args": None})
    assert merged["image"] == "mine:2" and "args" not in merged
