"""Interception mode NONE: the proxy without a redirect, as Istio 1.20.8 injects it."""

from __future__ import annotations

import json
from typing import Any

import pytest
import support

from injector.core import config, config_file, template
from injector.core.engine import Engine


def _injected(engine: Engine, annotations: dict[str, str], **spec: Any) -> dict[str, Any]:
    pod = {
        "metadata": {"name": "p", "annotations": annotations},
        "spec": {"containers": [{"name": "app", "image": "app"}], **spec},
    }
    return support.injected(engine, pod)


def _names(items: list[dict[str, Any]] | None) -> list[str]:
    return [c["name"] for c in items or []]


@pytest.mark.parametrize(
    ("mode", "inits"),
    [
        pytest.param("REDIRECT", ["setup", "istio-init"], id="redirect-runs-istio-init"),
        pytest.param("TPROXY", ["setup", "istio-init"], id="tproxy-runs-istio-init"),
        pytest.param("NONE", ["setup"], id="none-runs-no-istio-init"),
    ],
)
def test_only_a_mode_with_a_redirect_gets_istio_init(
    engine: Engine, mode: str, inits: list[str]
) -> None:
    pod = _injected(
        engine,
        {"sidecar.istio.io/interceptionMode": mode},
        initContainers=[{"name": "setup", "image": "s"}],
    )
    assert _names(pod["spec"]["initContainers"]) == inits
    proxy = pod["spec"]["containers"][-1]
    assert {"name": "ISTIO_META_INTERCEPTION_MODE", "value": mode} in proxy["env"]


def test_a_native_proxy_under_none_runs_first_without_istio_init(engine: Engine) -> None:
    pod = _injected(
        engine,
        {"sidecar.istio.io/interceptionMode": "NONE", "sidecar.istio.io/nativeSidecar": "true"},
        initContainers=[{"name": "setup", "image": "s"}],
    )
    assert _names(pod["spec"]["initContainers"]) == ["istio-proxy", "setup"]
    status = json.loads(pod["metadata"]["annotations"]["sidecar.istio.io/status"])
    assert status["initContainers"] == ["istio-proxy"]
    assert status["containers"] is None


def test_the_annotation_overrides_a_mesh_default_of_none() -> None:
    settings = {"mesh": {"proxyConfig": {"interceptionMode": "NONE"}}}
    engine = Engine(config_file.from_mapping(settings), template.load(config.DEFAULT_TEMPLATES))
    assert _names(_injected(engine, {})["spec"].get("initContainers")) == []
    redirected = _injected(engine, {"sidecar.istio.io/interceptionMode": "REDIRECT"})
    assert _names(redirected["spec"]["initContainers"]) == ["istio-init"]


@pytest.mark.parametrize(
    ("mode", "result"),
    [
        pytest.param("REDIRECT", "skipped", id="redirect-exempts-the-apps-traffic"),
        pytest.param("NONE", "injected", id="none-redirects-nothing-to-exempt"),
    ],
)
def test_an_app_running_as_the_proxy_uid_matters_only_with_a_redirect(
    engine: Engine, mode: str, result: str
) -> None:
    pod = {
        "metadata": {"name": "p", "annotations": {"sidecar.istio.io/interceptionMode": mode}},
        "spec": {
            "containers": [{"name": "app", "image": "app"}],
            "securityContext": {"runAsUser": 1337},
        },
    }
    outcome = engine.inject(pod, namespace="shop", ns=None)
    assert outcome.result == result
    assert ("app_runs_as_proxy_uid" in outcome.reasons) is (result == "skipped")
