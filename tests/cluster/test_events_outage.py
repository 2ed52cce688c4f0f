"""Events never delay a review while the API server is away: once a call found it
unavailable, an Event is dropped at once and counted; while it hangs (not known yet),
the queue stays bounded and recording never blocks. When the API server answers again,
Events are sent again."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from support.fake_kube import FakeApi

from injector.cluster import events, kubeapi
from injector.core import policy
from injector.core.handler import Handled, OwnerReference
from injector.telemetry.metrics import Metrics

OWNER = OwnerReference("apps/v1", "ReplicaSet", "web-7d4b9c8f5", "5a0d3f1e-8c1b-4a44")
HANDLED = Handled(
    {}, "injected", (policy.NAMESPACE_ENABLED,), "uid-1", "shop", "web-", OWNER, False
)


class Switch:
    """A transport to the fake API that can refuse (no answer) or hang every call."""

    def __init__(self, api: FakeApi) -> None:
        self.api, self.refuse, self.release = api, False, threading.Event()
        self.release.set()
        self.calls = 0

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        self.calls += 1
        if self.refuse:
            raise kubeapi.ApiError(0, "Unreachable", "cannot connect: connection refused")
        self.release.wait(30)
        return self.api.request(method, path, **kwargs)


def _count(metrics: Metrics, outcome: str) -> float:
    value = metrics.registry.get_sample_value("sidecar_injector_events_total", {"outcome": outcome})
    return value or 0.0


def _sender(switch: Switch, metrics: Metrics, capacity: int = 512) -> events.EventSender:
    cluster = kubeapi.Cluster(switch)
    return events.EventSender(cluster, metrics=metrics, capacity=capacity, instance="r1")


def test_with_the_api_server_away_an_event_is_dropped_at_once_and_counted() -> None:
    api, metrics = FakeApi(), Metrics()
    switch = Switch(api)
    sender = _sender(switch, metrics)
    switch.refuse = True
    with contextlib.suppress(kubeapi.ApiError):
        sender.cluster.get_lease("sidecar-injector", "lease")  # any call finds it away
    calls = switch.calls
    for _ in range(100):
        sender.record(HANDLED)
    assert _count(metrics, "dropped") == 100
    assert sender._queue.qsize() == 0
    assert switch.calls == calls, "recording tried the API server again"
    switch.refuse = False
    sender.cluster.get_lease("sidecar-injector", "lease")  # answered (404): it is back
    sender.record(HANDLED)
    assert sender._queue.qsize() == 1


def test_while_the_api_server_hangs_the_queue_stays_bounded_and_recording_never_blocks() -> None:
    api, metrics = FakeApi(), Metrics()
    switch = Switch(api)
    switch.release.clear()  # every call hangs until released
    sender = _sender(switch, metrics, capacity=4)
    stop = threading.Event()
    thread = threading.Thread(target=sender.run, args=(stop,), daemon=True)
    thread.start()
    # Recorded from a thread of its own: were a record to wait for the hung call, it
    # would still be running when the switch is released, not finished before.
    recorder = threading.Thread(target=lambda: [sender.record(HANDLED) for _ in range(20)])
    try:
        recorder.start()
        recorder.join(timeout=10)
        finished_while_hung = not recorder.is_alive() and not switch.release.is_set()
        dropped = _count(metrics, "dropped")
    finally:
        switch.release.set()
        recorder.join(timeout=10)
        sender.wait_idle(10)
        stop.set()
        thread.join(timeout=5)
    assert finished_while_hung, "recording waited for the hung API server"
    assert 15 <= dropped <= 16  # one in flight, four queued
    assert _count(metrics, "sent") == 20 - dropped
