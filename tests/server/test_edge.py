"""The limits on connections and request heads, on the real server over TLS: a head too
large, a head too slow, an idle connection, and one connection too many."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator

import httpx
import pytest
from support import http_cases, servers

CONFIG = (
    "server: {maxConnections: 4, maxHeaderBytes: 4096, headerTimeoutSeconds: 1,"
    " reviewTimeoutSeconds: 1}\n"
)
HEAD = b"POST /inject HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.Running]:
    with servers.running(tmp_path_factory.mktemp("edge"), CONFIG) as instance:
        yield instance


def _answer(sock: ssl.SSLSocket, timeout: float = 5) -> bytes:
    """Everything the server writes until it closes (or `timeout` passes)."""
    sock.settimeout(timeout)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except (TimeoutError, ConnectionResetError, ssl.SSLError):
        pass
    return received


def _review_is_answered(instance: servers.Running) -> bool:
    with httpx.Client(verify=instance.client_context()) as client:
        response = client.post(f"{instance.url}/inject", content=http_cases.VALID,
                               headers={"content-type": "application/json"})  # fmt: skip
    return response.status_code == 200


def test_a_head_over_the_size_cap_gets_431_and_is_closed(edge: servers.Running) -> None:
    sock = edge.tls_socket()
    with sock:
        sock.sendall(HEAD)
        try:
            for _ in range(64):  # a header value that never ends: 1 MiB if taken in whole
                sock.sendall(b"X-Padding: " + b"a" * 16384)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert _review_is_answered(edge)


def test_a_head_sent_a_line_at_a_time_is_cut_off_at_the_header_timeout(
    edge: servers.Running,
) -> None:
    sock = edge.tls_socket()
    started = time.monotonic()
    with sock:
        sock.sendall(b"POST /inject HTTP/1.1\r\n")
        try:
            for index in range(30):
                sock.sendall(b"X-Line-%d: slow\r\n" % index)
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert time.monotonic() - started < 4


def test_an_idle_connection_is_closed_at_the_header_timeout(edge: servers.Running) -> None:
    sock = edge.tls_socket()
    started = time.monotonic()
    with sock:
        answer = _answer(sock, timeout=5)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert time.monotonic() - started < 4


def test_a_connection_past_the_cap_is_closed_at_once(edge: servers.Running) -> None:
    held = [edge.tls_socket() for _ in range(4)]
    try:
        raw = socket.create_connection(("127.0.0.1", edge.port), timeout=5)
        extra = edge.client_context().wrap_socket(raw, server_hostname="127.0.0.1")
        with extra:
            started = time.monotonic()
            assert _answer(extra, timeout=3) == b""
            assert time.monotonic() - started < 1, "closed, not timed out"
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.2)  # the server sees the closes
    assert _review_is_answered(edge)


def test_a_keep_alive_connection_gets_a_fresh_header_timeout_per_request(
    edge: servers.Running,
) -> None:
    with httpx.Client(verify=edge.client_context()) as client:
        for _ in range(3):
            response = client.post(f"{edge.url}/inject", content=http_cases.VALID,
                                   headers={"content-type": "application/json"})  # fmt: skip
            assert response.status_code == 200
            time.sleep(0.6)  # idle between requests: the keep-alive timeout's, not ours
