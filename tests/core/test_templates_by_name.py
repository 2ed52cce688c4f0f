"""inject.istio.io/templates picks a template by name; an unknown name is refused."""

from __future__ import annotations

from typing import Any

import pytest

from injector.core.engine import Engine


def _pod(templates: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "annotations": {"inject.istio.io/templates": templates}},
        "spec": {"containers": [{"name": "app", "image": "app"}]},
    }


def _added(engine: Engine, templates: str) -> list[str]:
    outcome = engine.inject(_pod(templates), namespace="shop", ns=None)
    assert outcome.result == "injected", outcome.message
    ops = outcome.ops or []
    return [op["value"]["name"] for op in ops if op["path"].startswith("/spec/")
            and isinstance(op["value"], dict)] + [
        item["name"] for op in ops if isinstance(op["value"], list) for item in op["value"]
        if isinstance(item, dict) and "image" in item
    ]  # fmt: skip


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
