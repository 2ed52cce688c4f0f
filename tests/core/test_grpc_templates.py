"""The proxyless gRPC templates, grpc-simple and grpc-agent, as Istio 1.20.8 injects them."""

from __future__ import annotations

from typing import Any

import pytest
import support

from injector.core import declared, mesh_metadata, policy
from injector.core.engine import Engine


def _pod(templates: str, annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "p",
            "annotations": {"inject.istio.io/templates": templates, **(annotations or {})},
        },
        "spec": {"containers": [{"name": "app", "image": "app"}], **spec},
    }


def _names(items: list[dict[str, Any]] | None) -> list[str]:
    return [c["name"] for c in items or []]


@pytest.mark.parametrize(
    ("templates", "inits", "containers"),
    [
        pytest.param("grpc-simple", ["grpc-bootstrap-init"], ["app"], id="simple-no-proxy"),
        pytest.param("grpc-agent", [], ["app", "istio-proxy"], id="agent-no-init"),
    ],
)
def test_each_grpc_template_injects_its_own_containers(
    engine: Engine, templates: str, inits: list[str], containers: list[str]
) -> None:
    spec = support.injected(engine, _pod(templates))["spec"]
    assert _names(spec.get("initContainers")) == inits
    assert _names(spec["containers"]) == containers


def test_the_agent_stays_a_regular_container_when_native_sidecars_are_asked_for(
    engine: Engine,
) -> None:
    pod = _pod("grpc-agent", {"sidecar.istio.io/nativeSidecar": "true"})
    spec = support.injected(engine, pod)["spec"]
    assert _names(spec["containers"]) == ["app", "istio-proxy"]
    assert "initContainers" not in spec


def test_proxy_metadata_follows_the_trust_domain_in_the_agents_env(engine: Engine) -> None:
    pod = _pod("grpc-agent", {"proxy.istio.io/config": '{"proxyMetadata": {"A": "1"}}'})
    proxy = support.injected(engine, pod)["spec"]["containers"][-1]
    env = _names(proxy["env"])
    assert env[env.index("TRUST_DOMAIN") :] == [
        "TRUST_DOMAIN", "A", "ISTIO_META_DNS_CAPTURE", "DISABLE_ENVOY",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("templates", "spec", "reason"),
    [
        pytest.param("grpc-simple", {"initContainers": [{"name": "grpc-bootstrap-init",
                                                         "image": "x"}]},
                     policy.CONTAINER_NAME_CONFLICT, id="bootstrap-init-taken"),
        pytest.param("grpc-simple", {"volumes": [{"name": "grpc-io-proxyless-bootstrap",
                                                  "emptyDir": {}}]},
                     policy.VOLUME_NAME_CONFLICT, id="bootstrap-volume-taken"),
        pytest.param("grpc-agent", {"volumes": [{"name": "istio-xds", "emptyDir": {}}]},
                     policy.VOLUME_NAME_CONFLICT, id="xds-volume-taken"),
    ],
)  # fmt: skip
def test_a_name_the_chosen_template_injects_that_the_pod_has_skips_it(
    engine: Engine, templates: str, spec: dict[str, Any], reason: str
) -> None:
    outcome = engine.inject(_pod(templates, **spec), namespace="shop", ns=None)
    assert outcome.result == "skipped"
    assert outcome.reasons == [reason]


def test_what_every_app_container_gets_is_merged_with_its_own_entries_winning() -> None:
    app = {
        "name": "app",
        "env": [{"name": "B", "value": "own"}, {"name": "C", "value": "own"}],
        "volumeMounts": [{"name": "v", "mountPath": "/data"}],
    }
    additions = {
        "name": "*",
        "env": [{"name": "A", "value": "added"}, {"name": "B", "value": "added"}],
        "volumeMounts": [{"name": "other", "mountPath": "/data"}, {"name": "x", "mountPath": "/x"}],
    }
    merged = declared.with_additions(app, additions)
    assert merged["name"] == "app"
    assert merged["env"] == [
        {"name": "B", "value": "own"},
        {"name": "C", "value": "own"},
        {"name": "A", "value": "added"},
    ]
    assert merged["volumeMounts"] == [
        {"name": "v", "mountPath": "/data"}, {"name": "x", "mountPath": "/x"},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("labels", "annotations", "expected"),
    [
        pytest.param({}, {}, {"pod.canonicalName": "web", "pod.canonicalRevision": "latest",
                              "pod.defaultContainer": "app", "pod.defaultLogsContainer": "app"},
                     id="from-the-workload"),
        pytest.param({"app": "shop", "version": "v1"},
                     {"kubectl.kubernetes.io/default-container": "side"},
                     {"pod.canonicalName": "shop", "pod.canonicalRevision": "v1",
                      "pod.defaultContainer": None, "pod.defaultLogsContainer": "app"},
                     id="the-pods-own-choices"),
    ],
)  # fmt: skip
def test_a_templates_metadata_values_follow_the_sidecars_rules(
    labels: dict[str, str], annotations: dict[str, str], expected: dict[str, Any]
) -> None:
    found = mesh_metadata.template_values(
        labels, annotations, workload_name="web", app_containers=["app", "side"], revision=""
    )
    assert found == {**expected, "pod.revision": "default"}
