"""What logging costs per review: µs per review through the whole ASGI app, in process,
with `serve`'s logging set up (JSON or text, at info) and written to /dev/null.

    .venv/bin/python bench/log_cost.py [json|text ...]

JSON is the production format: routine decisions stay at debug there, so the cost is
one `isEnabledFor` check. Text (`make run`) writes one line per decision. Each format
runs 7 rounds of 20,000 reviews of tests/fixtures/create-pod.json after a warm-up; the
median and the best round are printed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from injector.core import config_file, template
from injector.core.engine import Engine
from injector.server import app
from injector.telemetry import logs

BODY = (Path(__file__).resolve().parents[1] / "tests/fixtures/create-pod.json").read_bytes()
ROUNDS, REVIEWS, WARMUP = 7, 20_000, 2_000
SCOPE = {
    "type": "http", "path": "/inject", "method": "POST", "query_string": b"",
    "headers": [(b"content-type", b"application/json"),
                (b"content-length", str(len(BODY)).encode())],
}  # fmt: skip


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": BODY, "more_body": False}


async def _send(_message: Any) -> None:
    return None


async def _rounds(webhook: app.ASGIApp) -> list[float]:
    for _ in range(WARMUP):
        await webhook(SCOPE, _receive, _send)
    results = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(REVIEWS):
            await webhook(SCOPE, _receive, _send)
        results.append((time.perf_counter() - started) / REVIEWS * 1e6)
    return results


def measure(fmt: str) -> list[float]:
    logs.setup(level="info", fmt=fmt)
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - for the whole process
    cfg = config_file.load(None)
    state = app.State(
        engine=Engine(cfg, template.load(cfg.templates)), decisions_at_info=fmt == "text"
    )
    return asyncio.run(_rounds(app.create_app(state)))


if __name__ == "__main__":
    for fmt in sys.argv[1:] or ["json", "text"]:
        rounds = measure(fmt)
        print(f"{fmt}: median {statistics.median(rounds):.1f} µs/review, best {min(rounds):.1f}")
