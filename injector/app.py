"""The HTTP edge: the only module that knows HTTP.

It reads the body under a size cap while streaming, decodes it with orjson (which rejects
invalid UTF-8, lone surrogates, NaN/Infinity and nesting deeper than 1024 levels), hands
the decoded review to `handler.handle`, and writes the answer. A broken call gets a 4xx
with a short JSON error; nothing becomes a 500 or shows a stack trace.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from injector import handler, review
from injector.engine import Engine
from injector.metrics import Metrics

log = logging.getLogger("injector.app")

JSON = "application/json"


# kube-apiserver appends its own deadline to the URL, e.g. /inject?timeout=10s.
_TIMEOUT_PARAM = re.compile(r"([0-9]{1,4})s")
# Time kept back from the caller's deadline to write the answer.
_ANSWER_MARGIN_SECONDS = 0.5


@dataclass
class State:
    """What the app serves with; tests and the server build it, the app only reads it."""

    engine: Engine
    namespaces: handler.NamespaceLookup = handler.no_cluster
    ready: Callable[[], bool] = lambda: True
    metrics: Metrics = field(default_factory=Metrics)
    # Set on SIGTERM: readiness fails and connections are closed after each answer, so
    # kube-apiserver moves to other replicas while this one still answers.
    draining: bool = False
    in_flight: int = 0


class BadCall(Exception):
    """A call refused before any decision; carries its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _error(
    status: int, message: str, *, retry_after: bool = False, close: bool = False
) -> Response:
    headers = {"retry-after": "1"} if retry_after else {}
    if close:
        headers["connection"] = "close"
    body = orjson.dumps({"error": message})
    return Response(body, status_code=status, media_type=JSON, headers=headers)


async def _read_body(request: Request, limit: int) -> bytes:
    """Read at most `limit` bytes, refusing a larger body before it is all read."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != JSON:
        raise BadCall(415, "Content-Type must be application/json")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BadCall(413, f"body larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BadCall(413, f"body larger than {limit} bytes")
    if not body:
        raise BadCall(400, "empty body: expected an AdmissionReview")
    return bytes(body)


def _deadline(request: Request, configured: float) -> float:
    """Seconds this review may take: ours, or less if the caller will give up sooner."""
    match = _TIMEOUT_PARAM.fullmatch(request.query_params.get("timeout", ""))
    if match is None:
        return configured
    return max(0.1, min(configured, int(match[1]) - _ANSWER_MARGIN_SECONDS))


async def _review(request: Request, state: State) -> handler.Handled:
    """Read, decode and answer one review; raises BadCall for a broken call."""
    limits = state.engine.config.server
    try:
        async with asyncio.timeout(_deadline(request, limits.reviewTimeoutSeconds)):
            body = await _read_body(request, limits.maxBodyBytes)
    except TimeoutError:
        raise BadCall(408, "the body did not arrive within the review deadline") from None
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadCall(400, "the body is not valid JSON (UTF-8, no NaN, depth <= 1024)") from None
    try:
        return handler.handle(decoded, engine=state.engine, namespaces=state.namespaces)
    except review.ReviewError as err:
        raise BadCall(400, str(err)) from None


def create_app(state: State) -> FastAPI:
    """Build the webhook application around a prepared state."""
    app = FastAPI(title="sidecar-injector", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.injector = state

    @app.post("/inject")
    async def inject(request: Request) -> Response:
        started = time.perf_counter()
        headers = {"connection": "close"} if state.draining else None
        if state.in_flight >= state.engine.config.server.maxConcurrentReviews:
            # A 503 is a call failure for kube-apiserver: the failurePolicy decides.
            state.metrics.bad_calls.labels("503").inc()
            return _error(503, "too many reviews in flight; retry", retry_after=True)
        state.in_flight += 1
        try:
            handled = await _review(request, state)
        except BadCall as bad:
            state.metrics.bad_calls.labels(str(bad.status)).inc()
            return _error(bad.status, bad.message, close=state.draining)
        except Exception:
            # A bug of ours in reading the call: logged with its stack, never shown.
            log.exception("could not process an admission call")
            state.metrics.bad_calls.labels("400").inc()
            return _error(400, "the call could not be processed", close=state.draining)
        finally:
            state.in_flight -= 1
        state.metrics.answered(handled.result, handled.reasons, time.perf_counter() - started)
        if handled.result != "ignored":
            log.info(
                "%s %s/%s: %s",
                handled.result,
                handled.namespace,
                handled.name,
                ",".join(handled.reasons),
                extra={"uid": handled.uid, "result": handled.result},
            )
        return Response(orjson.dumps(handled.answer), media_type=JSON, headers=headers)

    @app.get("/healthz")
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type=JSON)

    @app.get("/readyz")
    async def readyz() -> Response:
        if state.draining:
            return _error(503, "draining")
        if state.ready():
            return Response(b'{"status":"ready"}', media_type=JSON)
        return _error(503, "not ready")

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
