"""The injector in-process, no socket: the engine, the app, and one ASGI call.

Shared by the micro-benchmark, the memory check and the profiles. `call` drives the real
FastAPI app (`injector.server.app.create_app`) with one POST /inject, the way uvicorn does,
minus HTTP parsing and TLS.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Literal

from fastapi import FastAPI

from injector.core import config_file, template
from injector.core.engine import Engine
from injector.server.app import State, create_app
from injector.telemetry import logs


def engine(render: Literal["plan", "diff"] = "plan") -> Engine:
    """The engine with the default configuration and template (as `serve` has it);
    `render="diff"`: injecting as before render plans (their oracle)."""
    cfg = config_file.load(None)
    return Engine(cfg, template.load(cfg.templates), render=render)


def app() -> FastAPI:
    """The real app with its default state: metrics on, no cluster."""
    return create_app(State(engine=engine()))


def json_logs_to_devnull() -> None:
    """`logs.setup()` with its default JSON format, writing to /dev/null: the cost of
    formatting and writing each line is kept, the output is not."""
    saved = sys.stderr
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - kept open by the log handler
    try:
        logs.setup()
    finally:
        sys.stderr = saved


def scope(body: bytes) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": "/inject",
        "raw_path": b"/inject",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 9443),
        "state": {},
    }


async def call(asgi: FastAPI, body: bytes) -> tuple[int, bytes]:
    """POST `body` to /inject; return the status and the response body."""
    sent = False
    status, chunks = 0, []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await asgi(scope(body), receive, send)
    return status, b"".join(chunks)
