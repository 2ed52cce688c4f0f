"""The cluster features together, behind the app: registration (dev URL or Service),
the namespace cache as the policy's lookup, native sidecars from the API server's
version, and an Event for each decision, all against the in-memory API."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import support
from fastapi.testclient import TestClient
from support.fake_kube import FakeApi

from injector.certs import issuing
from injector.cluster import kubeapi, registration
from injector.core.engine import Engine
from injector.server import cluster_features as wiring
from injector.server.app import State, create_app

URL = "https://192.168.49.1:9443/inject"
WEBHOOKS = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
NAMESPACES = "/api/v1/namespaces"


def _owned(pod: dict[str, Any]) -> dict[str, Any]:
    pod["metadata"]["ownerReferences"] = [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4b9c", "uid": "rs-uid",
         "controller": True},
    ]  # fmt: skip
    return pod


@pytest.fixture
def api() -> FakeApi:
    api = FakeApi(version=("1", "30"), watch_seconds=0.05)
    api.put(NAMESPACES, {"metadata": {"name": "shop", "labels": {"istio-injection": "enabled"}}})
    api.put(NAMESPACES, {"metadata": {"name": "plain"}})
    return api


@pytest.fixture
def pem() -> bytes:
    return issuing.new_ca().cert_pem


@pytest.fixture
def state(engine: Engine) -> State:
    return State(engine=engine)


@pytest.fixture
def features(api: FakeApi, state: State, pem: bytes) -> Iterator[wiring.ClusterFeatures]:
    running = wiring.start_cluster_features(
        kubeapi.Cluster(api), state, webhook_url=URL, webhook_config_name="dev", ca_bundle_pem=pem
    )
    assert running.namespaces.wait_synced(3)
    yield running
    running.stop()
    assert not any(thread.is_alive() for thread in running.threads)


def test_dev_registration_points_both_webhooks_at_the_url_with_the_ca(
    api: FakeApi, features: wiring.ClusterFeatures, pem: bytes
) -> None:
    stored = api.objects[WEBHOOKS]["dev"]
    for hook in stored["webhooks"]:
        assert hook["clientConfig"] == {"url": URL, "caBundle": base64.b64encode(pem).decode()}
    assert features.registered == stored


def test_pods_created_through_the_api_are_injected_and_explained(
    api: FakeApi, state: State, features: wiring.ClusterFeatures, pod: dict[str, Any]
) -> None:
    """What kube-apiserver does after registration: send the review to the URL."""
    with TestClient(create_app(state)) as client:
        answer = client.post("/inject", json=support.review(_owned(pod), namespace="shop")).json()
    mutated = support.apply(pod, answer)
    support.validate_pod(mutated)
    assert answer["response"]["auditAnnotations"]["reasons"] == "namespace_enabled"
    names = [c["name"] for c in mutated["spec"]["initContainers"]]
    assert names == ["istio-init", "istio-proxy"], "1.30 runs native sidecars"
    assert features.events.wait_idle(3)
    (event,) = [c.body for c in api.calls_to("POST", "/api/v1/namespaces/shop/events")]
    assert (event["reason"], event["involvedObject"]["uid"]) == ("Injected", "rs-uid")


def test_a_skip_in_a_namespace_the_cache_knows_is_explained_on_the_owner(
    api: FakeApi, state: State, features: wiring.ClusterFeatures, pod: dict[str, Any]
) -> None:
    with TestClient(create_app(state)) as client:
        answer = client.post("/inject", json=support.review(_owned(pod), namespace="plain"))
    assert support.patch_of(answer.json()) is None
    assert features.events.wait_idle(3)
    (event,) = [c.body for c in api.calls_to("POST", "/events")]
    assert event["reason"] == "InjectionSkipped"
    assert "not labelled istio-injection=enabled" in event["message"]


def test_a_dry_run_changes_nothing_in_the_cluster(
    api: FakeApi, state: State, features: wiring.ClusterFeatures, pod: dict[str, Any]
) -> None:
    with TestClient(create_app(state)) as client:
        review = support.review(_owned(pod), namespace="shop", dry_run=True)
        assert support.patch_of(client.post("/inject", json=review).json())
    assert features.events.wait_idle(3)
    assert api.calls_to("POST") == []


def test_an_old_api_server_gets_classic_sidecars(state: State, pod: dict[str, Any]) -> None:
    features = wiring.start_cluster_features(
        kubeapi.Cluster(FakeApi(version=("1", "28"))), state, webhook_url=None
    )
    try:
        assert state.engine.native_supported is False
        answer = support.apply(pod, _answer(state, pod))
        assert [c["name"] for c in answer["spec"]["containers"]] == ["web", "istio-proxy"]
    finally:
        features.stop()


def _answer(state: State, pod: dict[str, Any]) -> dict[str, Any]:
    with TestClient(create_app(state)) as client:
        answer: dict[str, Any] = client.post("/inject", json=support.review(pod)).json()
        return answer


def test_nothing_reaches_the_api_until_started_without_a_bundle(api: FakeApi, state: State) -> None:
    api.calls.clear()
    features = wiring.cluster_features(kubeapi.Cluster(api), state, webhook_url=None)
    assert api.calls == []
    assert state.namespaces == features.namespaces.lookup
    assert features.events.record in state.observers
    assert state.namespaces("shop") is None, "unknown until started and synced"


def test_in_a_cluster_the_renderer_is_the_manifests_service_configuration(
    api: FakeApi, state: State, pem: bytes
) -> None:
    features = wiring.cluster_features(kubeapi.Cluster(api), state, webhook_url=None)
    rendered = features.render(pem)
    expected = registration.webhook_configuration(
        namespace="sidecar-injector",
        service="sidecar-injector",
        url=None,
        ca_bundle_pem=pem,
        server_version=(1, 30),
    )
    assert api.version_info == {"major": "1", "minor": "30"}
    assert rendered == expected


def test_the_renderer_excludes_the_namespace_the_injector_runs_in(
    api: FakeApi, state: State, pem: bytes
) -> None:
    features = wiring.cluster_features(
        kubeapi.Cluster(api), state, webhook_url=None, namespace="mesh-system"
    )
    for hook in features.render(pem)["webhooks"]:
        assert hook["clientConfig"]["service"]["namespace"] == "mesh-system"
        (excluded,) = [
            e["values"]
            for e in hook["namespaceSelector"]["matchExpressions"]
            if e["key"] == "kubernetes.io/metadata.name"
        ]
        assert "mesh-system" in excluded and "sidecar-injector" not in excluded


def test_a_refused_registration_stops_before_anything_starts(
    api: FakeApi, state: State, pem: bytes
) -> None:
    api.fail_next("PATCH", WEBHOOKS, 403)
    with pytest.raises(registration.RegistrationError, match="may not create or patch"):
        wiring.cluster_features(kubeapi.Cluster(api), state, webhook_url=URL, ca_bundle_pem=pem)
    assert state.observers == []


def test_a_webhook_url_without_a_cluster_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert wiring.connect(None, None) is None
    with pytest.raises(kubeapi.ConnectError, match="pass --kubeconfig"):
        wiring.connect(None, URL)


def test_a_missing_kubeconfig_is_a_connect_error(tmp_path: Path) -> None:
    with pytest.raises(kubeapi.ConnectError, match="nowhere"):
        wiring.connect(tmp_path / "nowhere", URL)


def test_events_are_never_sent_into_system_namespaces_or_the_injectors_own(
    api: FakeApi, engine: Engine
) -> None:
    cfg = dataclasses.replace(engine.config, systemNamespaces=("kube-system", "platform"))
    state = State(engine=Engine(cfg, engine.template))
    built = wiring.cluster_features(
        kubeapi.Cluster(api), state, webhook_url=None, namespace="mesh-injector"
    )
    assert built.events.excluded == {"kube-system", "platform", "mesh-injector"}
