"""Micro-benchmark: µs per review of the core, no HTTP. Run with

    .venv/bin/pytest bench/test_micro.py --benchmark-only

For each fixture:
- handle: `handler.handle` on an already decoded body (the pure core);
- codec_handle: `orjson.loads` + `handler.handle` + `orjson.dumps` of the answer, i.e.
  everything the app does per call apart from HTTP, metrics and logging;
- floor: `orjson.loads` + `orjson.dumps` of a fixed answer (what the floor server does).
GC stays on (pytest-benchmark's default), as it is in a server.
"""

from __future__ import annotations

import base64
from typing import Any

import fixtures
import inproc
import orjson
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from injector import handler

ENGINE = inproc.engine()
BODIES = {name: fixtures.body(name) for name in fixtures.NAMES}
PATCH = base64.b64encode(
    orjson.dumps(ENGINE.inject(fixtures.small_pod(), namespace="bench", ns=None).ops)
).decode()


@pytest.fixture(params=fixtures.NAMES)
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def codec_handle(body: bytes) -> bytes:
    return orjson.dumps(handler.handle(orjson.loads(body), engine=ENGINE).answer)


def floor(body: bytes) -> bytes:
    uid = orjson.loads(body)["request"]["uid"]
    response = {"uid": uid, "allowed": True, "patchType": "JSONPatch", "patch": PATCH}
    answer: dict[str, Any] = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": response,
    }
    return orjson.dumps(answer)


def test_handle(benchmark: BenchmarkFixture, name: str) -> None:
    decoded = orjson.loads(BODIES[name])
    handled = benchmark(handler.handle, decoded, engine=ENGINE)
    assert handled.result == "injected"
    assert handled.answer["response"]["allowed"] is True


def test_codec_handle(benchmark: BenchmarkFixture, name: str) -> None:
    answer = orjson.loads(benchmark(codec_handle, BODIES[name]))
    assert answer["response"]["allowed"] is True
    assert answer["response"]["patch"]


def test_floor(benchmark: BenchmarkFixture, name: str) -> None:
    answer = orjson.loads(benchmark(floor, BODIES[name]))
    assert answer["response"]["patch"] == PATCH
