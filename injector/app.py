"""The HTTP edge: the only module that knows HTTP.

It reads the body under a size cap while streaming, decodes it with orjson (which rejects
invalid UTF-8, lone surrogates, NaN/Infinity and nesting deeper than 1024 levels), hands
the decoded review to `handler.handle`, and writes the answer. A broken call gets a 4xx
with a short JSON error; nothing becomes a 500 or shows a stack trace.
"""

from __future__ import annotations

import logging
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


@dataclass
class State:
    """What the app serves with; tests and the server build it, the app only reads it."""

    engine: Engine
    namespaces: handler.NamespaceLookup = handler.no_cluster
    ready: Callable[[], bool] = lambda: True
    metrics: Metrics = field(default_factory=Metrics)


class BadCall(Exception):
    """A call refused before any decision; carries its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _error(status: int, message: str) -> Response:
    return Response(orjson.dumps({"error": message}), status_code=status, media_type=JSON)


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


def create_app(state: State) -> FastAPI:
    """Build the webhook application around a prepared state."""
    app = FastAPI(title="sidecar-injector", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.injector = state

    @app.post("/inject")
    async def inject(request: Request) -> Response:
        started = time.perf_counter()
        try:
            body = await _read_body(request, state.engine.config.maxBodyBytes)
            try:
                decoded = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise BadCall(
                    400, "the body is not valid JSON (UTF-8, no NaN, depth <= 1024)"
                ) from None
            try:
                handled = handler.handle(decoded, engine=state.engine, namespaces=state.namespaces)
            except review.ReviewError as err:
                raise BadCall(400, str(err)) from None
        except BadCall as bad:
            state.metrics.bad_calls.labels(str(bad.status)).inc()
            return _error(bad.status, bad.message)
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
        return Response(orjson.dumps(handled.answer), media_type=JSON)

    @app.get("/healthz")
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type=JSON)

    @app.get("/readyz")
    async def readyz() -> Response:
        if state.ready():
            return Response(b'{"status":"ready"}', media_type=JSON)
        return _error(503, "not ready")

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
