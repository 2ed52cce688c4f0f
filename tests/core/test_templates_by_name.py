"""inject.istio.io/templates picks a template by name; an unknown name is refused."""

from __future__ import annotations

from typing import Any

import jsonpatch
import pytest

from injector.core.engine import Engine


def _pod(templates: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "annotations": {"inject.istio.io/templates": templates}},
        "spec": {"containers": [{"name": "app", "image": "app"}]},
    }


def _added(engine: Engine, templates: str) -> list[str]:
    pod = _pod(templates)
    outcome = engine.inject(pod, namespace="shop", ns=None)
    assert outcome.result == "injected", outcome.message
    spec = jsonpatch.apply_patch(pod, outcome.ops or [])["spec"]
    containers = [*spec.get("initContainers", []), *spec["containers"]]
    return [c["name"] for c in containers if c["name"] != "app"]


@pytest.mark.parametrize(
    ("templates", "containers"),
    [
        pytest.param("sidecar", {"istio-proxy", "istio-init"}, id="sidecar"),
        pytest.param(" sidecar , sidecar", {"istio-proxy", "istio-init"}, id="repeated-sidecar"),
        pytest.param("gateway", {"istio-proxy"}, id="gateway-has-no-init"),
    ],
)
def test_the_named_template_is_rendered(
    engine: Engine, templates: str, containers: set[str]
) -> None:
    assert set(_added(engine, templates)) == containers


def test_the_gateway_proxy_runs_as_a_router(engine: Engine) -> None:
    outcome = engine.inject(_pod("gateway"), namespace="shop", ns=None)
    proxy = next(op["value"] for op in outcome.ops or [] if op["path"] == "/spec/containers/-")
    assert proxy["args"][:2] == ["proxy", "router"]
    assert "startupProbe" not in proxy


@pytest.mark.parametrize(
    ("templates", "message"),
    [
        pytest.param("waypoint", "no template named 'waypoint'", id="unknown"),
        pytest.param("sidecar,ingress", "no template named 'ingress'", id="one-unknown"),
        pytest.param("sidecar,gateway", "must name one template", id="two-templates"),
    ],
)
def test_an_unusable_selection_is_denied_naming_it(
    engine: Engine, templates: str, message: str
) -> None:
    outcome = engine.inject(_pod(templates), namespace="shop", ns=None)
    assert outcome.result == "denied"
    assert "inject.istio.io/templates" in (outcome.message or "")
    assert message in (outcome.message or "")


UNPRIVILEGED_PORTS = {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        pytest.param(None, [UNPRIVILEGED_PORTS], id="no-security-context"),
        pytest.param({"runAsUser": 5}, [UNPRIVILEGED_PORTS], id="no-sysctls"),
        pytest.param({"sysctls": [{"name": "kernel.shm_rmid_forced", "value": "1"}]},
                     [{"name": "kernel.shm_rmid_forced", "value": "1"}, UNPRIVILEGED_PORTS],
                     id="other-sysctls-kept"),
        pytest.param({"sysctls": [{"name": UNPRIVILEGED_PORTS["name"], "value": "80"}]},
                     [{"name": UNPRIVILEGED_PORTS["name"], "value": "80"}],
                     id="the-pods-own-value-wins"),
    ],
)  # fmt: skip
def test_a_gateway_may_bind_low_ports_without_losing_the_pods_sysctls(
    engine: Engine, context: dict[str, Any] | None, expected: list[dict[str, str]]
) -> None:
    pod = _pod("gateway")
    if context is not None:
        pod["spec"]["securityContext"] = context
    outcome = engine.inject(pod, namespace="shop", ns=None)
    assert outcome.result == "injected"
    patched = jsonpatch.apply_patch(pod, outcome.ops or [])
    assert patched["spec"]["securityContext"]["sysctls"] == expected


def test_the_sidecar_template_leaves_the_pods_security_context_alone(engine: Engine) -> None:
    outcome = engine.inject(_pod("sidecar"), namespace="shop", ns=None)
    assert not any("securityContext" in op["path"] for op in outcome.ops or [])
