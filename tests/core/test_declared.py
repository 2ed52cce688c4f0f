"""Declared istio-proxy/istio-init: merged over the injected container as a strategic
merge does, the declared fields winning."""

from __future__ import annotations

from typing import Any

import pytest
import support

from injector.core import declared
from injector.core.engine import Engine

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


def _proxy(name: str = "istio-proxy", **context: Any) -> dict[str, Any]:
    return {"name": name, "securityContext": context}


@pytest.mark.parametrize(
    ("spec", "user"),
    [
        pytest.param({"containers": [_proxy(runAsUser=1234)]},
                     1234, id="declared-user"),
        pytest.param({"initContainers": [_proxy(runAsUser=7)]},
                     7, id="declared-native-proxy-user"),
        pytest.param({"containers": [_proxy(runAsUser=0)]},
                     None, id="root-is-no-exemption"),
        pytest.param({"containers": [_proxy(runAsUser=True)]},
                     None, id="not-a-number"),
        pytest.param({"containers": [_proxy(runAsGroup=5)]},
                     None, id="group-only"),
        pytest.param({"containers": [_proxy("app", runAsUser=1234)]},
                     None, id="no-declared-proxy"),
    ],
)  # fmt: skip
def test_the_declared_proxy_user_is_its_own_non_root_run_as_user(
    spec: dict[str, Any], user: int | None
) -> None:
    assert declared.proxy_user(spec) == user
    assert declared.exempt_id(spec, 1337) == (user or 1337)


def test_the_init_containers_first_u_argument_takes_the_user_and_nothing_else() -> None:
    args = ["-p", "15001", "-u", "1337", "-m", "REDIRECT", "-u", "9"]
    init = {"name": "istio-init", "args": args}
    assert declared.with_user(init, 1234)["args"] == [
        "-p", "15001", "-u", "1234", "-m", "REDIRECT", "-u", "9"
    ]  # fmt: skip
    assert args[3] == "1337"  # the rendered container is shared: not changed


def _native_pod(init_user: int) -> dict[str, Any]:
    """A native-sidecar Pod that declares its proxy's user 1234 and has an init container
    running as `init_user`."""
    return {
        "metadata": {"annotations": {"sidecar.istio.io/nativeSidecar": "true"}},
        "spec": {
            "initContainers": [
                {"name": "setup", "image": "s", "securityContext": {"runAsUser": init_user}}
            ],
            "containers": [
                {"name": "app", "image": "a"},
                {"name": "istio-proxy", "image": "auto", "securityContext": {"runAsUser": 1234}},
            ],
        },
    }


@pytest.mark.parametrize(
    ("init_user", "result"),
    [
        pytest.param(1234, "skipped", id="init-runs-as-the-declared-proxy-user"),
        pytest.param(1337, "injected", id="init-runs-as-the-default-proxy-uid"),
    ],
)
def test_a_native_init_container_is_checked_against_the_declared_proxy_user(
    engine: Engine, init_user: int, result: str
) -> None:
    """istio-init exempts the declared proxy's user (-u 1234), so a user init container
    that runs after the native proxy as 1234 would bypass it; 1337 is not exempt then."""
    outcome = engine.inject(_native_pod(init_user), namespace="shop", ns=None)
    assert outcome.result == result, outcome.reasons


@pytest.mark.parametrize("kind", ["readinessProbe", "livenessProbe", "startupProbe"])
def test_a_declared_istio_init_probe_is_rewritten_once_and_stays_so(
    engine: Engine, kind: str
) -> None:
    """Istio 1.20.8 rewrites the probes of every init container but istio-proxy after the
    merge, the declared istio-init's included; reinjecting the result then changes nothing
    (found by the property test: the probe was rewritten only on the second pass)."""
    pod = {
        "metadata": {"name": "p"},
        "spec": {
            "initContainers": [
                {"name": "istio-init", "image": "auto", kind: {"httpGet": {"port": 8080}}}
            ],
            "containers": [{"name": "app", "image": "a"}],
        },
    }
    result = support.injected(engine, pod)
    init = next(c for c in result["spec"]["initContainers"] if c["name"] == "istio-init")
    suffix = {"readinessProbe": "readyz", "livenessProbe": "livez", "startupProbe": "startupz"}
    url = f"/app-health/istio-init/{suffix[kind]}"
    assert init[kind] == {"httpGet": {"path": url, "port": 15020}}
    proxy = next(c for c in result["spec"]["containers"] if c["name"] == "istio-proxy")
    env = {e["name"]: e.get("value") for e in proxy["env"]}
    assert env["ISTIO_KUBE_APP_PROBERS"] == f'{{"{url}":{{"httpGet":{{"port":8080}}}}}}'
    again = engine.inject(result, namespace="shop", ns=None)
    assert not again.ops, again.ops
