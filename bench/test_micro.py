"""Micro-benchmark: µs per review of the core, no HTTP. Run with

    .venv/bin/pytest bench/test_micro.py --benchmark-only

For each fixture:
- handle: `handler.handle` on an already decoded body (the pure core). The same body
  again and again is what a controller's Pods look like, so this is the remembered path;
- handle_first_sight: the same, with outcomes not remembered: a Pod never seen before;
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

from injector.core import handler

ENGINE = inproc.engine()
BODIES = {name: fixtures.body(name) for name in fixtures.NAMES}
PATCH = base64.b64encode(
    orjson.dumps(ENGINE.inject(fixtures.small_pod(), namespace="bench", ns=None).ops)
).decode()


@pytest.fixture(params=fixtures.NAMES)
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def codec_handle(body: bytes) -> bytes:
    decoded = orjson.loads(body)
    return orjson.dumps(handler.handle(decoded, engine=ENGINE, raw=body).answer)


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
    handled = benchmark(handler.handle, decoded, engine=ENGINE, body_size=len(BODIES[name]))
    assert handled.result == "injected"
    assert handled.answer["response"]["allowed"] is True


def test_handle_first_sight(benchmark: BenchmarkFixture, name: str) -> None:
    decoded = orjson.loads(BODIES[name])
    # A body size past the memo's limit: nothing is remembered between rounds.
    handled = benchmark(handler.handle, decoded, engine=ENGINE, body_size=2**40)
    assert handled.result == "injected"


def test_codec_handle(benchmark: BenchmarkFixture, name: str) -> None:
    answer = orjson.loads(benchmark(codec_handle, BODIES[name]))
    assert answer["response"]["allowed"] is True
    assert answer["response"]["patch"]


def test_floor(benchmark: BenchmarkFixture, name: str) -> None:
    answer = orjson.loads(benchmark(floor, BODIES[name]))
    assert answer["response"]["patch"] == PATCH
