"""`server.maxHeaderBytes` is enforced exactly and every time, however the head arrives
(in one write or in pieces), and the answers of the connection guards and of a request
the HTTP parser refuses are JSON `{"error": ...}` like every other error: on the real
server, over TLS on 127.0.0.1."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator

import pytest
from support import servers

LIMIT = 32768  # the default maxHeaderBytes, as the issue measured it
CONFIG = "server: {headerTimeoutSeconds: 1}\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.Running]:
    with servers.running(tmp_path_factory.mktemp("heads"), CONFIG) as instance:
        yield instance


def _head(size: int) -> bytes:
    """A GET /healthz head of exactly `size` bytes, blank line included."""
    start, end = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ", b"\r\n\r\n"
    return start + b"a" * (size - len(start) - len(end)) + end


def _exchange(server: servers.Running, data: bytes, *, pieces: int = 1) -> bytes:
    """Send `data` in `pieces` writes; everything answered until close or 5 s."""
    with server.tls_socket() as sock:
        step = -(-len(data) // pieces)
        try:
            for offset in range(0, len(data), step):
                sock.sendall(data[offset : offset + step])
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass
        sock.settimeout(5)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
                if b"\r\n\r\n" in received and b"connection: close" not in received.lower():
                    break  # a keep-alive answer: complete once its head is in
        except (TimeoutError, ConnectionResetError, ssl.SSLError):
            pass
    return received


def _json_error(answer: bytes) -> str:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower(), answer[:300]
    error = json.loads(body)["error"]
    assert isinstance(error, str) and error
    return error


@pytest.mark.parametrize("pieces", [pytest.param(1, id="one-write"), pytest.param(7, id="seven")])
@pytest.mark.parametrize(
    ("size", "status"),
    [
        pytest.param(LIMIT, b"200", id="at-the-limit"),
        pytest.param(LIMIT + 1, b"431", id="one-byte-over"),
        pytest.param(33_000, b"431", id="33000"),
        pytest.param(40_000, b"431", id="40000"),
        pytest.param(64_000, b"431", id="64000"),
        pytest.param(100_000, b"431", id="100000"),
    ],
)
def test_the_head_limit_is_exact_however_the_head_arrives(
    server: servers.Running, size: int, status: bytes, pieces: int
) -> None:
    for _ in range(3):
        answer = _exchange(server, _head(size), pieces=pieces)
        assert answer.startswith(b"HTTP/1.1 " + status + b" "), (size, answer[:100])
    if status == b"431":
        assert str(LIMIT) in _json_error(answer)


def test_the_header_timeout_answer_is_json(server: servers.Running) -> None:
    answer = _exchange(server, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert "header" in _json_error(answer)


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(b"POST /inject HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n", id="length"),
        pytest.param(
            b"GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            id="two-lengths",
        ),
        pytest.param(b"NOT A REQUEST\r\n\r\n", id="not-http"),
    ],
)
def test_a_request_the_parser_refuses_gets_a_json_400(
    server: servers.Running, request_bytes: bytes
) -> None:
    answer = _exchange(server, request_bytes)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert "HTTP" in _json_error(answer)
