"""App probe rewriting, as Istio 1.20.8's app_probe.go does it, and safe on reinvocation."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from injector.core import probes


def _rewrite(
    container: dict[str, Any], status_port: int = 15020
) -> tuple[dict[str, Any], dict[str, Any]]:
    items, probers = [container], {}
    probes.rewrite(items, status_port=status_port, probers=probers)
    return items[0], probers


@pytest.mark.parametrize(
    ("probe", "registered"),
    [
        pytest.param({"httpGet": {"path": "/r", "port": "http"}},
                     {"httpGet": {"path": "/r", "port": 80}},
                     id="named-port-resolved"),
        pytest.param({"httpGet": {"port": "nope"}}, None, id="unknown-port-name-not-registered"),
        pytest.param({"httpGet": {"port": 15020}}, None, id="status-port-not-registered"),
        pytest.param({"tcpSocket": {"port": 81}, "timeoutSeconds": 3},
                     {"tcpSocket": {"port": 81}, "timeoutSeconds": 3}, id="tcp-with-timeout"),
        pytest.param({"grpc": {"port": 90}}, {"grpc": {"port": 90, "service": None}}, id="grpc"),
    ],
)  # fmt: skip
def test_a_probe_is_registered_for_the_agent_as_istio_does(
    probe: dict[str, Any], registered: dict[str, Any] | None
) -> None:
    container = {
        "name": "c",
        "ports": [{"name": "http", "containerPort": 80}],
        "readinessProbe": probe,
    }
    rewritten, probers = _rewrite(container)
    assert probers == ({} if registered is None else {"/app-health/c/readyz": registered})
    assert rewritten["readinessProbe"]["httpGet"] == {"path": "/app-health/c/readyz", "port": 15020}
    assert set(rewritten["readinessProbe"]) - {"timeoutSeconds"} == {"httpGet"}


def test_timing_fields_and_http_details_are_kept_and_https_becomes_http() -> None:
    probe = {"httpGet": {"port": 8443, "scheme": "HTTPS", "host": "h"}, "periodSeconds": 7}
    rewritten, _ = _rewrite({"name": "c", "livenessProbe": probe, "startupProbe": {"exec": {}}})
    assert rewritten["livenessProbe"] == {
        "httpGet": {"port": 15020, "scheme": "HTTP", "host": "h", "path": "/app-health/c/livez"},
        "periodSeconds": 7,
    }
    assert rewritten["startupProbe"] == {"exec": {}}


def test_a_rewritten_probe_is_not_rewritten_again_and_the_proxy_is_skipped() -> None:
    done = {
        "name": "c",
        "readinessProbe": {"httpGet": {"path": "/app-health/c/readyz", "port": 15020}},
    }
    proxy = {"name": "istio-proxy", "readinessProbe": {"httpGet": {"port": 15021}}}
    items, probers = [done, proxy], {}
    probes.rewrite(items, status_port=15020, probers=probers)
    assert items[0] is done and items[1] is proxy and probers == {}


def test_a_custom_status_port_is_where_the_kubelet_probes() -> None:
    rewritten, probers = _rewrite({"name": "c", "readinessProbe": {"tcpSocket": {"port": 5}}}, 123)
    assert rewritten["readinessProbe"]["httpGet"]["port"] == 123
    assert probers == {"/app-health/c/readyz": {"tcpSocket": {"port": 5}}}


@pytest.mark.parametrize(
    ("annotation", "default", "port", "expected"),
    [
        pytest.param(None, True, 15020, True, id="default-on"),
        pytest.param("false", True, 15020, False, id="pod-off"),
        pytest.param("True", False, 15020, True, id="pod-on-go-bool"),
        pytest.param("nonsense", False, 15020, False, id="unparsable-uses-default"),
        pytest.param("true", True, 0, False, id="no-status-port"),
    ],
)
def test_the_rewrite_switch(
    annotation: str | None, default: bool, port: int, expected: bool
) -> None:
    annotations = (
        {} if annotation is None else {"sidecar.istio.io/rewriteAppHTTPProbers": annotation}
    )
    assert probes.enabled(annotations, default=default, status_port=port) is expected


def test_existing_prober_entries_win_when_merged() -> None:
    old = {"/app-health/a/readyz": {"httpGet": {"port": 1}}}
    env = [{"name": "ISTIO_KUBE_APP_PROBERS", "value": orjson.dumps(old).decode()}]
    probes.merge_env(
        env,
        {
            "/app-health/a/readyz": {"httpGet": {"port": 2}},
            "/app-health/b/livez": {"grpc": {"port": 3}},
        },
    )
    merged = orjson.loads(env[0]["value"])
    assert merged == {**old, "/app-health/b/livez": {"grpc": {"port": 3}}}
    assert list(merged) == sorted(merged)
