"""Events never delay a review while the API server is away: once a call found it
unavailable, an Event is dropped at once and counted; while it hangs (not known yet),
the queue stays bounded and recording never blocks. When the API server answers again,
Events are sent again."""

from __future__ import annotations

import contextlib
import threading
import time
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

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
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
    started = time.perf_counter()
    for _ in range(100):
        sender.record(HANDLED)
    took = time.perf_counter() - started
    assert _count(metrics, "dropped") == 100
    assert sender._queue.qsize() == 0
    assert took < 0.05, f"100 records took {took * 1000:.1f} ms"
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
    try:
        started = time.perf_counter()
        for _ in range(20):
            sender.record(HANDLED)
        took = time.perf_counter() - started
        dropped = _count(metrics, "dropped")
    finally:
        switch.release.set()
        sender.wait_idle(10)
        stop.set()
        thread.join(timeout=5)
    assert took < 0.05, f"20 records took {took * 1000:.1f} ms"
    assert 15 <= dropped <= 16  # one in flight, four queued
    assert _count(metrics, "sent") == 20 - dropped
