"""One view of the API server's reachability for all the calls of a Cluster: a closed
set of operation names, one log line when it goes, at most one per step of a backoff
while it stays away, one when it is back; the metrics an alert is written on. A whole
60 s outage is simulated on a fake clock with the real watch loop and Lease elector."""

from __future__ import annotations

import datetime
import logging
import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from prometheus_client import generate_latest
from support.fake_kube import FakeApi

from injector.certs import leader
from injector.cluster import kubeapi, reachability, watch
from injector.telemetry.metrics import Metrics

NS = "sidecar-injector"
REFUSED = kubeapi.ApiError(
    0,
    "Unreachable",
    "cannot connect to the API server at https://10.96.0.1:443: connection refused",
)


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        pytest.param("GET", "/version", {}, "version", id="version"),
        pytest.param("GET", f"/api/v1/namespaces/{NS}/secrets/x", {}, "get secrets", id="get"),
        pytest.param("GET", "/api/v1/namespaces/shop", {}, "get namespaces", id="get-namespace"),
        pytest.param("GET", "/api/v1/namespaces", {}, "list namespaces", id="list"),
        pytest.param("GET", "/api/v1/pods", {"limit": "500"}, "list pods", id="list-all"),
        pytest.param(
            "GET", f"/api/v1/namespaces/{NS}/secrets", {"watch": "1"}, "watch secrets", id="watch"
        ),
        pytest.param(
            "PUT",
            f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases/l",
            {},
            "replace leases",
            id="replace",
        ),
        pytest.param("POST", "/api/v1/namespaces/shop/events", {}, "create events", id="create"),
        pytest.param(
            "PATCH",
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/s",
            {},
            "apply mutatingwebhookconfigurations",
            id="apply",
        ),
    ],
)
def test_each_call_has_an_operation_name_from_a_closed_set(
    method: str, path: str, query: dict[str, str], expected: str
) -> None:
    assert reachability.operation(method, path, query) == expected


@pytest.mark.parametrize(
    ("status", "reachable", "counted"),
    [
        pytest.param(0, False, True, id="no-answer"),
        pytest.param(429, False, True, id="too-many-requests"),
        pytest.param(500, False, True, id="internal-error"),
        pytest.param(503, False, True, id="unavailable"),
        pytest.param(403, True, True, id="forbidden-is-an-answer"),
        pytest.param(404, True, False, id="not-found-is-expected"),
        pytest.param(409, True, False, id="conflict-is-expected"),
    ],
)
def test_which_errors_make_the_api_server_unavailable_and_which_are_counted(
    status: int, reachable: bool, counted: bool
) -> None:
    metrics, state = Metrics(), reachability.Reachability()
    state.bind(metrics)
    state.failed("get leases", kubeapi.ApiError(status, "X", "x"))
    assert state.reachable is reachable
    assert metrics.api_reachable._value.get() == (1 if reachable else 0)
    assert metrics.api_failures.labels("get leases")._value.get() == (1 if counted else 0)


class Timeline:
    """Fake time for one thread: the watch loop's `stop.wait` advances it, and runs the
    elector's rounds that fall due meanwhile, as its own thread would."""

    def __init__(self, end: float) -> None:
        self.now, self.end = 0.0, end
        self.rounds: list[Any] = []  # [next due, step] per background loop
        self.gauge: list[tuple[float, float]] = []  # (time, sidecar_injector_api_reachable)
        self.metrics: Metrics | None = None

    def is_set(self) -> bool:
        return self.now >= self.end

    def wait(self, delay: float) -> bool:
        target = min(self.now + delay, self.end)
        while (due := min(self.rounds, key=lambda r: r[0], default=None)) and due[0] <= target:
            self.now = due[0]
            due[0] = self.now + due[1]()
        self.now = target
        if self.metrics is not None:
            self.gauge.append((self.now, self.metrics.api_reachable._value.get()))
        return self.is_set()


class Outage:
    """A transport to the fake API that gets no answer between `start` and `end`;
    a watch of the live API lasts 5 s of the timeline."""

    def __init__(self, api: FakeApi, timeline: Timeline, start: float, end: float) -> None:
        self.api, self.timeline, self.start, self.end = api, timeline, start, end

    def _away(self) -> bool:
        return self.start <= self.timeline.now < self.end

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        if self._away():
            raise REFUSED
        return self.api.request(method, path, **kwargs)

    def stream(self, path: str, *, query: Mapping[str, str]) -> Iterator[dict[str, Any]]:
        if self._away():
            raise REFUSED
        self.timeline.wait(5.0)
        if self._away():  # the connection went down under the open watch
            raise REFUSED
        return iter(())


def _simulate(caplog: pytest.LogCaptureFixture, metrics: Metrics) -> Timeline:
    """65 s: the API server away from 5 s to 65 s (60 s), a replica watching its Secret
    and electing (and so logging as `serve` would)."""
    timeline = Timeline(end=75.0)
    timeline.metrics = metrics
    cluster = kubeapi.Cluster(Outage(FakeApi(), timeline, start=5.0, end=65.0))
    cluster.reachability.clock = lambda: timeline.now
    cluster.reachability.bind(metrics)
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    elector = leader.Elector(
        cluster, namespace=NS, name="lease", identity="a", duration=15,
        clock=lambda: start + datetime.timedelta(seconds=timeline.now),
        monotonic=lambda: timeline.now,
    )  # fmt: skip
    timeline.rounds.append([0.0, elector.attempt])
    with caplog.at_level(logging.DEBUG, logger="injector"):
        watch.follow(
            what="secret",
            list_objects=lambda: cluster.list_secret(NS, "certs"),
            watch=lambda version: cluster.watch_secret(NS, "certs", version),
            on_sync=lambda items: None,
            on_event=lambda kind, obj: None,
            stop=timeline,  # type: ignore[arg-type]
        )
    return timeline


def test_a_60_second_outage_logs_a_handful_of_lines(caplog: pytest.LogCaptureFixture) -> None:
    metrics = Metrics()
    timeline = _simulate(caplog, metrics)
    shown = [r for r in caplog.records if r.levelno >= logging.INFO]
    print("\nthe outage's log lines (INFO and above):")  # pytest -s shows them
    for record in shown:
        print(f"  {record.levelname.lower():7} {record.name}: {record.getMessage()}")
    failed = [r for r in caplog.records if "failed:" in r.getMessage() and r.name != "injector.api"]
    api_lines = [r.getMessage() for r in shown if r.name == "injector.api"]
    assert len(failed) >= 10, "the loops kept trying (and said so at debug)"
    assert all(r.levelno == logging.DEBUG for r in failed)
    assert api_lines[0].startswith("API server unavailable: ")
    assert "connection refused" in api_lines[0]
    assert all(line.startswith("API server still unavailable after") for line in api_lines[1:-1])
    assert re.match(r"API server reachable again after 6[0-9]s", api_lines[-1])
    assert len(api_lines) <= 5
    assert len(shown) <= 8
    assert {value for at, value in timeline.gauge if 10 <= at <= 60} == {0.0}
    assert timeline.gauge[-1] == (75.0, 1.0)


def test_the_outage_is_in_the_metrics(caplog: pytest.LogCaptureFixture) -> None:
    metrics = Metrics()
    _simulate(caplog, metrics)
    text = generate_latest(metrics.registry).decode()
    lines = [line for line in text.splitlines() if line.startswith("sidecar_injector_api_")]
    print("\n" + "\n".join(lines))
    assert "sidecar_injector_api_reachable 1.0" in lines
    failures = {
        line.split('"')[1]: float(line.rsplit(" ", 1)[1])
        for line in lines
        if line.startswith("sidecar_injector_api_failures_total{")
    }
    assert failures.keys() == {"get leases", "list secrets", "watch secrets"}
    assert failures["get leases"] >= 10 and failures["list secrets"] >= 4
