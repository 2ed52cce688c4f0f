"""Connection guards: the limits on a request's head and on connections that uvicorn
lacks, as a subclass of its httptools protocol.

uvicorn with httptools buffers a request head of any size (a 300 MiB header was taken in
whole), gives a connection as long as it likes to send its head (an idle TLS connection,
or a header line a second, lived for minutes), and accepts any number of connections.
Its `h11_max_incomplete_event_size` applies to the h11 parser only, `timeout_keep_alive`
only between two requests, and `limit_concurrency` answers 503 once a head is complete,
so a connection that never completes one is never counted. So `GuardedProtocol`:
- drops a connection past `maxConnections` as soon as it is made;
- gives each request head `headerTimeoutSeconds`, from the connection's start (or the
  request's first byte) to the end of its head, then answers 408 and closes;
- refuses a head over `maxHeaderBytes` with 431 and closes. The head is counted in bytes,
  request line to blank line included, before the parser is fed: a head that arrives
  whole in one read is measured as one that trickles in, so the limit holds to the byte
  (httptools would otherwise take any head that completes within one read);
- answers every refusal, and a request the HTTP parser cannot read (uvicorn's text/plain
  400), with JSON `{"error": ...}`, as the app answers everything else.
Bodies have their own limits in `review_body` (size, a byte budget, the review deadline).

It also tells the app whether the client presented a certificate that the TLS layer
verified (with `--client-ca-file`): the ASGI TLS extension's `client_cert_chain`, which
uvicorn does not fill in.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from injector.core import config
from injector.telemetry.metrics import Metrics

_ABORT_AFTER_SECONDS = 1.0
# What ends a head: a blank line (CRLF, or the bare LF parsers also take).
_HEAD_ENDS = (b"\r\n\r\n", b"\n\n", b"\n\r\n")


def _answer(status: bytes, error: str) -> bytes:
    """A whole HTTP answer that closes the connection, with a JSON error body."""
    body = orjson.dumps({"error": error})
    head = (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
        b"connection: close\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    return head + body


def _head_part(tail: bytes, data: bytes) -> int:
    """How many bytes of `data` belong to the head being read (`tail`: the head's last
    bytes so far, so that a blank line split between two reads is seen)."""
    joined = tail + data
    ends = [i + len(end) for end in _HEAD_ENDS if (i := joined.find(end)) >= 0]
    return min(ends) - len(tail) if ends else len(data)


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with connection, head-size and head-time limits."""

    limits: ClassVar[config.Server]
    metrics: ClassVar[Metrics]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
        self._tail = b""
        self._completed = False  # a message ended during the current read
        self._head_timer: asyncio.TimerHandle | None = None
        self._client_chain: list[bytes] = []

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.maxConnections:
            self.metrics.bad_calls.labels("connection_limit").inc()
            # At once, without TLS's closing exchange: each TLS connection holds buffers
            # of some 256 KiB until it is gone, and thousands were being closed politely.
            transport.abort()
            return
        self._arm()
        ssl_object = transport.get_extra_info("ssl_object")
        peer = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        self._client_chain = [peer] if peer else []

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        in_head = self._in_head and not self.transport.is_closing()
        if in_head and self._head_bytes + _head_part(self._tail, data) > self.limits.maxHeaderBytes:
            self._refuse(self._too_large(), "431")
            return
        self._completed = False
        super().data_received(data)
        # Still in a head after this read: the read ended inside it. (After a message
        # that ended in this read, a pipelined next head is counted from the next read.)
        if self._in_head and not self._completed and not self.transport.is_closing():
            self._head_bytes += len(data)
            self._tail = (self._tail + data)[-3:]

    def _too_large(self) -> bytes:
        limit = self.limits.maxHeaderBytes
        return _answer(
            b"431 Request Header Fields Too Large",
            f"the request line and headers are over server.maxHeaderBytes ({limit} bytes)",
        )

    def send_400_response(self, msg: str) -> None:
        # uvicorn's own answer to what httptools cannot parse is text/plain.
        self.metrics.bad_calls.labels("400").inc()
        self.transport.write(_answer(b"400 Bad Request", "not a valid HTTP/1.1 request"))
        self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        # DER rather than the extension's PEM: the app only asks whether there is one.
        self.scope["extensions"] = {"tls": {"client_cert_chain": self._client_chain}}
        self._in_head = True
        if self._head_timer is None:
            self._arm()

    def on_headers_complete(self) -> None:
        self._in_head, self._head_bytes, self._tail = False, 0, b""
        self._disarm()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        # What the connection sends next begins another head.
        self._in_head, self._completed = True, True
        super().on_message_complete()

    def _arm(self) -> None:
        seconds = self.limits.headerTimeoutSeconds
        self._head_timer = self.loop.call_later(seconds, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            seconds = self.limits.headerTimeoutSeconds
            timeout = _answer(
                b"408 Request Timeout",
                "the request line and headers took over server.headerTimeoutSeconds"
                f" ({seconds:g} s)",
            )
            self._refuse(timeout, "408")

    def _refuse(self, answer: bytes, status: str) -> None:
        self.metrics.bad_calls.labels(status).inc()
        self._disarm()
        self.transport.write(answer)
        self.transport.close()
        # A TLS close waits for the client's close_notify, reading (and decrypting) what
        # it still sends, for up to 30 s: a client streaming a huge header would go on
        # costing CPU. The answer has been written; a moment later the socket goes.
        self.loop.call_later(_ABORT_AFTER_SECONDS, self.transport.abort)


def protocol(limits: config.Server, metrics: Metrics) -> type[GuardedProtocol]:
    """The protocol class for one server, with its limits and metrics."""
    return type("GuardedProtocol", (GuardedProtocol,), {"limits": limits, "metrics": metrics})
