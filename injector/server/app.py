"""The HTTP edge: the only module that knows HTTP.

`POST /inject` is served by a small ASGI handler of its own, in front of FastAPI: every
Pod creation waits on it, and routing, dependency solving and request objects cost more
than the injection itself on a small Pod. It reads the body under a size cap while
streaming, within the review's deadline and a byte budget shared by all the bodies being
read (`BodyBudget`: a slow body holds the bytes it sent, not a slot, so 64 connections
sending a byte at a time cannot turn a real review away), decodes it with orjson (which
rejects invalid UTF-8, lone surrogates, NaN/Infinity and nesting deeper than 1024
levels), hands the decoded review to `handler.handle`, and writes the answer. FastAPI
serves the other endpoints.

A broken call gets a 4xx with a short JSON error; nothing becomes a 500 or shows a
stack trace.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from injector.core import handler, policy, review
from injector.core.engine import Engine
from injector.telemetry.metrics import Metrics

log = logging.getLogger("injector.app")

JSON = "application/json"
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# kube-apiserver appends its own deadline to the URL, e.g. /inject?timeout=10s.
_TIMEOUT_PARAM = re.compile(rb"(?:^|&)timeout=([0-9]{1,4})s(?:&|$)")
# Time kept back from the caller's deadline to write the answer.
_ANSWER_MARGIN_SECONDS = 0.5


@dataclass
class State:
    """What the app serves with; tests and the server build it, the app only reads it."""

    engine: Engine
    namespaces: handler.NamespaceLookup = handler.no_cluster
    ready: Callable[[], bool] = lambda: True
    metrics: Metrics = field(default_factory=Metrics)
    # Called with every decision after it is answered (e.g. to queue an Event); each
    # must return at once: the answer is already on its way.
    observers: list[Callable[[handler.Handled], None]] = field(default_factory=list)
    # Set on SIGTERM: readiness fails and connections are closed after each answer, so
    # kube-apiserver moves to other replicas while this one still answers.
    draining: bool = False
    # Every decision logged at info (a person at a terminal, `--log-format text`);
    # otherwise only denials and noteworthy skips are, the rest at debug.
    decisions_at_info: bool = False
    # With --client-ca-file: /inject only for a client whose certificate the TLS layer
    # verified (kube-apiserver's); health and metrics stay open for probes and scrapers.
    require_client_certificate: bool = False
    bodies: BodyBudget = field(default_factory=lambda: BodyBudget(0))

    def __post_init__(self) -> None:
        if self.bodies.total == 0:
            self.bodies = BodyBudget(self.engine.config.server.maxBufferedBodyBytes)


class BodyBudget:
    """Bytes of review bodies held at once, across connections. Every body reserves what
    it holds (its Content-Length up front, when declared) and gives it back when its
    review is answered; one that would pass `total` is refused with 503."""

    def __init__(self, total: int) -> None:
        self.total, self.held = total, 0

    def take(self, size: int) -> bool:
        if self.held + size > self.total:
            return False
        self.held += size
        return True

    def give(self, size: int) -> None:
        self.held -= size


class BadCall(Exception):
    """A call refused before any decision; carries its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class Disconnected(Exception):
    """The client went away before sending the whole body: nobody to answer."""


def _error(
    status: int, message: str, *, retry_after: bool = False, close: bool = False
) -> Response:
    headers = {"retry-after": "1"} if retry_after else {}
    if close:
        headers["connection"] = "close"
    body = orjson.dumps({"error": message})
    return Response(body, status_code=status, media_type=JSON, headers=headers)


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {name.lower(): value for name, value in scope["headers"]}


_BUSY = "too many review bodies in flight; retry"


async def _read_body(scope: Scope, receive: Receive, limit: int, held: list[int],
                     budget: BodyBudget) -> bytearray:  # fmt: skip
    """Read at most `limit` bytes, refusing a larger body before it is all read. What is
    reserved from `budget` is added to `held[0]`, for the caller to give back."""
    headers = _headers(scope)
    media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    if media_type != JSON.encode():
        raise BadCall(415, "Content-Type must be application/json")
    declared = headers.get(b"content-length", b"")
    if declared.isdigit() and int(declared) > limit:
        raise BadCall(413, f"body larger than {limit} bytes")
    if declared.isdigit():
        if not budget.take(int(declared)):
            raise BadCall(503, _BUSY)
        held[0] += int(declared)
    # One buffer, handed to the decoder as it is (orjson reads a bytearray): no copy.
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected
        body += message.get("body", b"")
        if len(body) > limit:
            raise BadCall(413, f"body larger than {limit} bytes")
        if len(body) > held[0]:
            if not budget.take(len(body) - held[0]):
                raise BadCall(503, _BUSY)
            held[0] = len(body)
        if not message.get("more_body", False):
            break
    if not body:
        raise BadCall(400, "empty body: expected an AdmissionReview")
    return body


def _deadline(scope: Scope, configured: float) -> float:
    """Seconds this review may take: ours, or less if the caller will give up sooner."""
    match = _TIMEOUT_PARAM.search(scope.get("query_string", b""))
    if match is None:
        return configured
    return max(0.1, min(configured, int(match[1]) - _ANSWER_MARGIN_SECONDS))


async def _review(scope: Scope, receive: Receive, state: State) -> handler.Handled:
    """Read, decode and answer one review; raises BadCall for a broken call."""
    limits, held = state.engine.config.server, [0]
    try:
        try:
            async with asyncio.timeout(_deadline(scope, limits.reviewTimeoutSeconds)):
                body = await _read_body(scope, receive, limits.maxBodyBytes, held, state.bodies)
        except TimeoutError:
            raise BadCall(408, "the body did not arrive within the review deadline") from None
        return _decide(body, state)
    finally:
        state.bodies.give(held[0])


def _decide(body: bytearray, state: State) -> handler.Handled:
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadCall(400, "the body is not valid JSON (UTF-8, no NaN, depth <= 1024)") from None
    try:
        return handler.handle(
            decoded,
            engine=state.engine,
            namespaces=state.namespaces,
            body_size=len(body),
            owners=bool(state.observers),
        )
    except review.ReviewError as err:
        raise BadCall(400, str(err)) from None


def _log(state: State, handled: handler.Handled) -> None:
    """Denials and skips a person should act on at info; the rest at debug, or at info
    too when a person is watching (decisions_at_info)."""
    noteworthy = handled.result == "denied" or policy.NOTEWORTHY.intersection(handled.reasons)
    level = logging.INFO if noteworthy or state.decisions_at_info else logging.DEBUG
    if handled.result != "ignored" and log.isEnabledFor(level):
        log.log(
            level,
            "%s %s/%s: %s",
            handled.result,
            handled.namespace,
            handled.name,
            ",".join(handled.reasons),
            extra={"uid": handled.uid, "result": handled.result},
        )


def _bad_call(state: State, status: int, message: str, **options: bool) -> Response:
    """A 4xx/5xx answer to a broken call, counted and logged at debug (a client's
    mistake is not the server's news, but a person debugging wants to see it)."""
    state.metrics.bad_calls.labels(str(status)).inc()
    if log.isEnabledFor(logging.DEBUG):
        log.debug("bad call: %d %s", status, message, extra={"status": status, "reason": message})
    return _error(status, message, **options)


async def _answer(state: State, scope: Scope, receive: Receive) -> Response | bytes:
    started = time.perf_counter()
    try:
        handled = await _review(scope, receive, state)
    except BadCall as bad:
        # A 503 is a call failure for kube-apiserver: the failurePolicy decides.
        busy = bad.status == 503
        return _bad_call(
            state, bad.status, bad.message, retry_after=busy, close=state.draining or busy
        )
    except Disconnected:
        raise
    except Exception:
        # A bug of ours in reading the call: logged with its stack, never shown.
        log.exception("could not process an admission call")
        return _bad_call(state, 400, "the call could not be processed", close=state.draining)
    state.metrics.answered(handled.result, handled.reasons, time.perf_counter() - started)
    _log(state, handled)
    for observe in state.observers:
        observe(handled)
    return orjson.dumps(handled.answer)


async def _send_json(send: Send, body: bytes, *, close: bool) -> None:
    """A 200 JSON answer, written straight to the ASGI server (it is every Pod's path)."""
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _client_certified(scope: Scope) -> bool:
    """The connection carried a client certificate that the TLS layer verified."""
    tls = (scope.get("extensions") or {}).get("tls") or {}
    return bool(tls.get("client_cert_chain"))


def _inject_endpoint(state: State) -> ASGIApp:
    async def inject(scope: Scope, receive: Receive, send: Send) -> None:
        response: Response | bytes
        if scope["method"] != "POST":
            response = _bad_call(state, 405, "use POST")
            response.headers["allow"] = "POST"
        elif state.require_client_certificate and not _client_certified(scope):
            state.metrics.bad_calls.labels("403").inc()
            response = _error(403, "a client certificate signed by the client CA is required")
        else:
            try:
                response = await _answer(state, scope, receive)
            except Disconnected:
                state.metrics.bad_calls.labels("disconnect").inc()
                return
        if isinstance(response, bytes):
            await _send_json(send, response, close=state.draining)
        else:
            await response(scope, receive, send)

    return inject


def _api(state: State) -> FastAPI:
    api = FastAPI(title="sidecar-injector", docs_url=None, redoc_url=None, openapi_url=None)
    api.state.injector = state

    @api.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        # One error shape on every path: {"error": ...}, as /inject answers (FastAPI's
        # default body is {"detail": ...}).
        response = _bad_call(state, exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})
        return response

    @api.get("/healthz")
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type=JSON)

    @api.get("/readyz")
    async def readyz() -> Response:
        if state.draining:
            return _error(503, "draining")
        if state.ready():
            return Response(b'{"status":"ready"}', media_type=JSON)
        return _error(503, "not ready")

    @api.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return api


def create_app(state: State) -> ASGIApp:
    """The webhook application: `/inject` on its own handler, the rest on FastAPI."""
    inject, api = _inject_endpoint(state), _api(state)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/inject":
            await inject(scope, receive, send)
        else:
            await api(scope, receive, send)

    return app
