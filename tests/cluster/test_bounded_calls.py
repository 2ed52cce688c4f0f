"""Every call to the API server is bounded, on the wire: a real client against real
sockets on 127.0.0.1 that refuse (nothing listening), hang (accept and never answer),
or answer 500 and 429 with Retry-After. Each call returns within its timeout, tries
once (no urllib3 retries, so no urllib3 warnings), and says what failed in words."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support import faulty_api, servers

from injector.cluster import kubeapi, watch

NS = "sidecar-injector"
STATUS_503 = {"kind": "Status", "reason": "ServiceUnavailable", "message": "etcd is down"}
STATUS_429 = {"kind": "Status", "reason": "TooManyRequests", "message": "slow down"}


def _cluster(tmp_path: Path, url: str, timeout: float | None = None) -> kubeapi.Cluster:
    return kubeapi.connect_user(
        faulty_api.kubeconfig(tmp_path / "kubeconfig", url), request_timeout=timeout
    )


def _timed(call: Callable[[], Any]) -> tuple[kubeapi.ApiError, float]:
    started = time.monotonic()
    with pytest.raises(kubeapi.ApiError) as raised:
        call()
    return raised.value, time.monotonic() - started


def test_the_server_transport_bounds_connect_and_read_by_default(tmp_path: Path) -> None:
    cluster = kubeapi.connect(faulty_api.kubeconfig(tmp_path / "kc", "https://127.0.0.1:1"))
    assert cluster is not None
    assert cluster.transport.timeouts == (5.0, 10.0)
    assert cluster.transport.api.configuration.retries is False


def test_a_closed_port_fails_at_once_in_words_and_urllib3_logs_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{servers.free_port()}"
    cluster = _cluster(tmp_path, url)
    with caplog.at_level(logging.DEBUG, logger="urllib3"):
        err, took = _timed(cluster.version)
    assert str(err) == f"cannot connect to the API server at {url}: connection refused"
    assert (err.status, err.unavailable) == (0, True)
    assert took < 1.0
    assert [r for r in caplog.records if r.name.startswith("urllib3") and r.levelno > 10] == []


CALLS: list[Any] = [
    pytest.param(lambda c: c.version(), id="version"),
    pytest.param(lambda c: c.get_lease(NS, "lease"), id="get-lease"),
    pytest.param(lambda c: c.list_secret(NS, "certs"), id="list-secret"),
    pytest.param(lambda c: c.create_event(NS, {"metadata": {"name": "e"}}), id="create-event"),
    pytest.param(
        lambda c: c.apply_webhook_config({"metadata": {"name": "sidecar-injector"}}), id="apply"
    ),
    pytest.param(lambda c: c.list_pods(), id="list-pods"),
]


@pytest.mark.parametrize("call", CALLS)
def test_a_server_that_never_answers_costs_one_connection_and_one_timeout(
    tmp_path: Path, call: Callable[[kubeapi.Cluster], Any]
) -> None:
    with faulty_api.hanging() as server:
        cluster = _cluster(tmp_path, server.url, timeout=0.5)
        err, took = _timed(lambda: call(cluster))
        assert str(err) == f"the API server at {server.url} sent no answer within 0.5s"
        assert 0.4 <= took < 1.5
        assert len(server.connections) == 1, "tried once: no retries"


def test_a_watch_of_a_silent_server_ends_within_its_timeout_plus_the_read_timeout(
    tmp_path: Path,
) -> None:
    with faulty_api.hanging() as server:
        cluster = _cluster(tmp_path, server.url, timeout=0.5)
        query = {"watch": "1", "resourceVersion": "1", "timeoutSeconds": "1"}
        stream = cluster.transport.stream(f"/api/v1/namespaces/{NS}/secrets", query=query)
        err, took = _timed(lambda: list(stream))
    assert "sent no answer within 1.5s" in str(err)
    assert 1.4 <= took < 2.5


def test_a_500_is_an_error_of_an_unavailable_server(tmp_path: Path) -> None:
    with faulty_api.answering((503, {}, STATUS_503)) as server:
        err, _ = _timed(_cluster(tmp_path, server.url).version)
    assert (err.status, err.reason, err.unavailable) == (503, "ServiceUnavailable", True)
    assert str(err) == "503 ServiceUnavailable: etcd is down"
    assert server.requests == 1


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        pytest.param({"Retry-After": "7"}, STATUS_429, 7.0, id="header"),
        pytest.param(
            {}, {**STATUS_429, "details": {"retryAfterSeconds": 3}}, 3.0, id="status-details"
        ),
        pytest.param({"Retry-After": "soon"}, STATUS_429, None, id="unreadable"),
    ],
)
def test_a_429_carries_its_retry_after(
    tmp_path: Path, headers: dict[str, str], body: Any, expected: float | None
) -> None:
    with faulty_api.answering((429, headers, body)) as server:
        err, _ = _timed(_cluster(tmp_path, server.url).version)
    assert (err.status, err.unavailable, err.retry_after) == (429, True, expected)
    assert server.requests == 1, "the client does not retry on its own"


class Waits:
    """A `stop` for the watch loop that records its pauses instead of sleeping."""

    def __init__(self, count: int) -> None:
        self.pauses: list[float] = []
        self.count = count

    def is_set(self) -> bool:
        return len(self.pauses) >= self.count

    def wait(self, delay: float) -> bool:
        self.pauses.append(delay)
        return self.is_set()


def test_the_watch_loop_waits_at_least_what_retry_after_asks(tmp_path: Path) -> None:
    with faulty_api.answering((429, {"Retry-After": "4"}, STATUS_429)) as server:
        cluster = _cluster(tmp_path, server.url)
        stop = Waits(3)
        watch.follow(
            what="secret",
            list_objects=lambda: cluster.list_secret(NS, "certs"),
            watch=lambda version: cluster.watch_secret(NS, "certs", version),
            on_sync=lambda items: None,
            on_event=lambda kind, obj: None,
            stop=stop,  # type: ignore[arg-type]
        )
    assert stop.pauses == [4.0, 4.0, 4.0]
    assert cluster.reachability.away
