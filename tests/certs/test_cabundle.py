"""Publishing the CA bundle into our MutatingWebhookConfiguration: the rendering, drift
detection, what counts as trusted, and the publisher against the fake API server."""

from __future__ import annotations

import base64
import copy
import threading
from typing import Any

import pytest
from kubernetes import client as k8s_client
from support.certs import wait_until
from support.fake_kube import FakeApi

from injector.certs import cabundle, issuing
from injector.cluster import kubeapi, registration
from injector.telemetry.metrics import Metrics

WEBHOOKS = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
OURS = [
    registration.NAMESPACE_WEBHOOK,
    registration.OBJECT_WEBHOOK,
    registration.REV_NAMESPACE_WEBHOOK,
    registration.REV_OBJECT_WEBHOOK,
]
RENDER = registration.renderer(
    name="sidecar-injector", namespace="sidecar-injector", service="sidecar-injector", url=None
)
FOREIGN = {"name": "other.example.com", "clientConfig": {"caBundle": "Zm9yZWlnbg=="}}
ALL = len(OURS)


def _foreign(configuration: dict[str, Any]) -> dict[str, Any]:
    return next(h for h in configuration["webhooks"] if h["name"] == FOREIGN["name"])


def _encoded(*cas: issuing.Issued) -> str:
    return base64.b64encode(issuing.pem_bundle([ca.cert for ca in cas])).decode()


def _configuration(*bundles: str | None) -> dict[str, Any]:
    hooks: list[dict[str, Any]] = []
    for name, bundle in zip(OURS, bundles, strict=False):
        config: dict[str, Any] = {"service": {"name": "sidecar-injector"}}
        if bundle is not None:
            config["caBundle"] = bundle
        hooks.append({"name": name, "clientConfig": config, "sideEffects": "None"})
    hooks.append(copy.deepcopy(FOREIGN))
    metadata = {"name": "sidecar-injector", "labels": {"team": "platform"}}
    return {"metadata": metadata, "webhooks": hooks}


@pytest.fixture(scope="module")
def cas() -> tuple[issuing.Issued, issuing.Issued]:
    return issuing.new_ca(), issuing.new_ca()


def test_the_rendered_ca_bundle_is_base64_of_the_pem_as_the_api_requires(cas: Any) -> None:
    pem = issuing.pem_bundle([cas[0].cert, cas[1].cert])
    rendered = RENDER(pem)
    assert rendered["metadata"]["name"] == "sidecar-injector"
    assert [hook["name"] for hook in rendered["webhooks"]] == OURS
    for hook in rendered["webhooks"]:
        encoded = hook["clientConfig"]["caBundle"]
        assert base64.b64decode(encoded) == pem
        # The official client's model checks the field is base64 (raw PEM fails).
        k8s_client.AdmissionregistrationV1WebhookClientConfig(ca_bundle=encoded)
    with pytest.raises(ValueError, match="ca_bundle"):
        k8s_client.AdmissionregistrationV1WebhookClientConfig(ca_bundle=pem.decode())


@pytest.mark.parametrize(
    ("observed", "drift"),
    [
        pytest.param("same", False, id="both-entries-carry-it"),
        pytest.param("empty", True, id="re-applied-with-empty-caBundle"),
        pytest.param("one-missing-field", True, id="caBundle-removed-from-one"),
        pytest.param("one-entry-gone", True, id="an-entry-removed"),
        pytest.param("none", True, id="configuration-deleted"),
        pytest.param("foreign-changed", False, id="only-a-foreign-entry-changed"),
    ],
)
def test_drift_is_any_difference_in_our_entries_only(cas: Any, observed: str, drift: bool) -> None:
    bundle = _encoded(cas[0])
    desired = RENDER(base64.b64decode(bundle))
    variants: dict[str, Any] = {
        "same": _configuration(*[bundle] * ALL),
        "empty": _configuration(*[""] * ALL),
        "one-missing-field": _configuration(*[bundle] * (ALL - 1), None),
        "one-entry-gone": _configuration(*[bundle] * (ALL - 1)),
        "none": None,
        "foreign-changed": _configuration(*[bundle] * ALL),
    }
    if observed == "foreign-changed":
        _foreign(variants[observed])["clientConfig"]["caBundle"] = ""
    assert cabundle.drifted(variants[observed], desired) is drift


def test_what_is_trusted_is_what_every_one_of_our_entries_trusts(cas: Any) -> None:
    old, new = cas
    both, only_new = _encoded(old, new), _encoded(new)
    trusted = cabundle.trusted_cas(_configuration(both, *[only_new] * (ALL - 1)), OURS)
    assert trusted == [new.cert]
    assert cabundle.trusted_cas(_configuration(*[both] * ALL), OURS) == [old.cert, new.cert]
    assert cabundle.trusted_cas(_configuration(both), OURS) == []
    not_a_cert = "bm90IGEgY2VydA=="
    assert cabundle.trusted_cas(_configuration(not_a_cert, *[both] * (ALL - 1)), OURS) == []
    assert cabundle.trusted_cas(None, OURS) == []


def _publisher(api: FakeApi) -> tuple[cabundle.Publisher, Metrics]:
    metrics = Metrics()
    publisher = cabundle.Publisher(kubeapi.Cluster(api), RENDER, metrics, clock=issuing.now_utc)
    return publisher, metrics


def test_publishing_is_a_server_side_apply_of_our_entries_as_our_field_manager(cas: Any) -> None:
    api = FakeApi()
    api.put(WEBHOOKS, _configuration(None, None))
    publisher, _ = _publisher(api)
    pem = issuing.pem_bundle([cas[0].cert])
    assert publisher.ensure(pem)
    (call,) = api.calls_to("PATCH", WEBHOOKS)
    assert call.content_type == kubeapi.APPLY_PATCH
    assert call.query == {"fieldManager": "sidecar-injector", "force": "true"}
    assert [hook["name"] for hook in call.body["webhooks"]] == OURS
    # Only the caBundle is ours: nothing else of an entry is in what is applied.
    assert [set(hook) for hook in call.body["webhooks"]] == [{"name", "clientConfig"}] * len(OURS)
    assert [set(hook["clientConfig"]) for hook in call.body["webhooks"]] == [{"caBundle"}] * len(
        OURS
    )
    stored = api.objects[WEBHOOKS]["sidecar-injector"]
    assert _foreign(stored) == FOREIGN
    assert stored["metadata"]["labels"] == {"team": "platform"}  # fields we do not own stay
    assert cabundle.trusted_cas(stored, OURS) == [cas[0].cert]
    assert publisher.published.cas == (cas[0].cert,)


def test_an_unchanged_bundle_is_not_applied_again(cas: Any) -> None:
    api = FakeApi()
    api.put(WEBHOOKS, _configuration(None, None))
    publisher, _ = _publisher(api)
    stop = threading.Event()
    watcher = threading.Thread(target=publisher.follow, args=(stop,), daemon=True)
    watcher.start()
    try:
        pem = issuing.pem_bundle([cas[0].cert])
        publisher.ensure(pem)
        wait_until(lambda: publisher.published.cas, 5, "the watch to see the bundle")
        for _ in range(3):
            publisher.ensure(pem)
    finally:
        stop.set()
        watcher.join(timeout=5)
    assert len(api.calls_to("PATCH", WEBHOOKS)) == 1


def test_a_caBundle_wiped_by_a_re_apply_is_repaired_from_the_watch(cas: Any) -> None:
    api = FakeApi()
    api.put(WEBHOOKS, _configuration(None, None))
    publisher, metrics = _publisher(api)
    pem = issuing.pem_bundle([cas[0].cert])
    publisher.on_change = lambda: publisher.ensure(pem)  # as the leader's loop does
    stop = threading.Event()
    watcher = threading.Thread(target=publisher.follow, args=(stop,), daemon=True)
    watcher.start()
    try:
        wait_until(lambda: publisher.published.cas, 5, "the first publication")
        api.put(WEBHOOKS, _configuration("", ""))  # kubectl apply of a manifest
        wait_until(lambda: metrics.cabundle_repairs._value.get() == 1, 5, "a repair")
        stored = api.objects[WEBHOOKS]["sidecar-injector"]
        assert cabundle.trusted_cas(stored, OURS) == [cas[0].cert]
        assert _foreign(stored) == FOREIGN
    finally:
        stop.set()
        watcher.join(timeout=5)


def test_a_failed_apply_is_counted_and_reported(cas: Any) -> None:
    api = FakeApi()
    api.fail_next("PATCH", WEBHOOKS, 403)
    publisher, metrics = _publisher(api)
    assert not publisher.ensure(issuing.pem_bundle([cas[0].cert]))
    assert metrics.cabundle_apply_failures._value.get() == 1
    assert publisher.ensure(issuing.pem_bundle([cas[0].cert]))


def test_the_configuration_and_the_secret_are_listed_by_name_as_rbac_requires() -> None:
    """RBAC with resourceNames allows list/watch only with fieldSelector metadata.name."""
    api = FakeApi(watch_seconds=0.01)
    cluster = kubeapi.Cluster(api)
    cluster.list_webhook_config("sidecar-injector")
    cluster.list_secret("mesh", "sidecar-injector-certs")
    list(cluster.watch_secret("mesh", "sidecar-injector-certs", "1"))
    paths = [(call.path, call.query["fieldSelector"]) for call in api.calls]
    assert paths == [
        (WEBHOOKS, "metadata.name=sidecar-injector"),
        ("/api/v1/namespaces/mesh/secrets", "metadata.name=sidecar-injector-certs"),
        ("/api/v1/namespaces/mesh/secrets", "metadata.name=sidecar-injector-certs"),
    ]


def test_an_operators_emergency_failure_policy_survives_a_new_bundle(cas: Any) -> None:
    api = FakeApi()
    configuration = _configuration(_encoded(cas[0]), _encoded(cas[0]))
    for hook in configuration["webhooks"][:2]:
        hook["failurePolicy"] = "Ignore"  # kubectl edit during an outage
        hook["namespaceSelector"] = {"matchLabels": {"team": "payments"}}
    api.put(WEBHOOKS, configuration)
    publisher, _ = _publisher(api)
    assert publisher.ensure(issuing.pem_bundle([cas[0].cert, cas[1].cert]))
    stored = api.objects[WEBHOOKS]["sidecar-injector"]
    assert [hook.get("failurePolicy") for hook in stored["webhooks"][:2]] == ["Ignore"] * 2
    assert stored["webhooks"][0]["namespaceSelector"] == {"matchLabels": {"team": "payments"}}
    assert cabundle.trusted_cas(stored, OURS) == [cas[0].cert, cas[1].cert]


def test_a_missing_configuration_is_created_whole_by_the_registration_manager(
    cas: Any,
) -> None:
    api = FakeApi(watch_seconds=0.01)
    publisher, _ = _publisher(api)
    publisher._on_sync([])  # the watch listed our configuration: there is none
    pem = issuing.pem_bundle([cas[0].cert])
    assert publisher.ensure(pem)
    (call,) = api.calls_to("PATCH", WEBHOOKS)
    assert call.query["fieldManager"] == registration.REGISTRATION_MANAGER
    assert call.body == RENDER(pem)
