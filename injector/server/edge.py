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
- refuses a head over `maxHeaderBytes` with 431 and closes, counting the bytes fed to the
  parser before the head is complete, so that httptools never buffers much more.
Bodies have their own limits in `review_body` (size, a byte budget, the review deadline).

It also tells the app whether the client presented a certificate that the TLS layer
verified (with `--client-ca-file`): the ASGI TLS extension's `client_cert_chain`, which
uvicorn does not fill in.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from injector.core import config
from injector.telemetry.metrics import Metrics

_ABORT_AFTER_SECONDS = 1.0
_CLOSE = b"connection: close\r\ncontent-length: 0\r\n\r\n"
_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\n" + _CLOSE
_TOO_LARGE = b"HTTP/1.1 431 Request Header Fields Too Large\r\n" + _CLOSE


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with connection, head-size and head-time limits."""

    limits: ClassVar[config.Server]
    metrics: ClassVar[Metrics]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
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
        super().data_received(data)
        # Still in a head after this chunk: every byte of it belongs to the head.
        if self._in_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self.limits.maxHeaderBytes:
                self._refuse(_TOO_LARGE, "431")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        # DER rather than the extension's PEM: the app only asks whether there is one.
        self.scope["extensions"] = {"tls": {"client_cert_chain": self._client_chain}}
        self._in_head = True
        if self._head_timer is None:
            self._arm()

    def on_headers_complete(self) -> None:
        self._in_head, self._head_bytes = False, 0
        self._disarm()
        super().on_headers_complete()

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
            self._refuse(_TIMEOUT, "408")

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
