"""The HTTP application: its routes, the `/inject` handler and every answer it writes.

`POST /inject` is served by a small ASGI handler of its own, in front of FastAPI: every
Pod creation waits on it, and routing, dependency solving and request objects cost more
than the injection itself on a small Pod. It reads the body within its limits
(`review_body`: a size cap while streaming, the review's deadline, a byte budget shared
by all the bodies being read), decodes it with orjson (which rejects invalid UTF-8, lone
surrogates, NaN/Infinity and nesting deeper than 1024 levels), hands the decoded review
to `handler.handle`, and writes the answer. FastAPI serves the other endpoints.

A broken call gets a 4xx with a short JSON error; nothing becomes a 500 or shows a
stack trace.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from injector.core import handler, policy, review
from injector.core.engine import Engine
from injector.server.review_body import (
    JSON,
    BadCall,
    BodyBudget,
    Disconnected,
    Receive,
    Scope,
    Send,
    deadline,
    read_body,
)
from injector.telemetry.metrics import Metrics

log = logging.getLogger("injector.app")

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


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


def _error(
    status: int, message: str, *, retry_after: bool = False, close: bool = False
) -> Response:
    headers = {"retry-after": "1"} if retry_after else {}
    if close:
        headers["connection"] = "close"
    body = orjson.dumps({"error": message})
    return Response(body, status_code=status, media_type=JSON, headers=headers)


async def _review(scope: Scope, receive: Receive, state: State) -> handler.Handled:
    """Read, decode and answer one review; raises BadCall for a broken call."""
    limits, held = state.engine.config.server, [0]
    try:
        try:
            async with asyncio.timeout(deadline(scope, limits.reviewTimeoutSeconds)):
                body = await read_body(scope, receive, limits.maxBodyBytes, held, state.bodies)
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
            raw=body,
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
            response = _bad_call(
                state, 403, "a client certificate signed by the client CA is required"
            )
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
