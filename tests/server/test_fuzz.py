"""Fuzzing the HTTP edge: arbitrary bytes and arbitrary JSON get either a 4xx with a JSON
error or a well-formed AdmissionReview; never a 500, never a hang, and the server stays
healthy.

The long run: `HYPOTHESIS_PROFILE=long .venv/bin/pytest tests/server/test_fuzz.py`.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import support
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from support import servers

from injector.core import config, template
from injector.core.engine import Engine
from injector.server.app import State, create_app

# Profiles are registered in test_properties (ci: a few hundred examples, long: many more).
import test_properties  # noqa: F401  # isort: skip

ENGINE = Engine(config.Config(), template.load(config.DEFAULT_TEMPLATES))
JSON_HEADERS = {"content-type": "application/json"}

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)  # fmt: skip
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=30,
)


NEAR_REVIEW_PATHS = [
    ("apiVersion",), ("kind",), ("request",), ("request", "uid"), ("request", "kind"),
    ("request", "operation"), ("request", "namespace"), ("request", "object"),
    ("request", "object", "metadata"), ("request", "object", "spec"),
    ("request", "object", "spec", "containers"), ("request", "object", "metadata", "labels"),
    ("request", "subResource"), ("request", "dryRun"),
]  # fmt: skip


@st.composite
def near_reviews(draw: st.DrawFn) -> Any:
    """Mostly-valid AdmissionReviews with one part replaced by arbitrary JSON."""
    pod = {"metadata": {"labels": {}}, "spec": {"containers": [{"name": "a", "image": "b"}]}}
    body: Any = support.review(pod)
    path = draw(st.sampled_from([(), *NEAR_REVIEW_PATHS]))
    value = draw(json_values)
    if not path:
        return value
    holder = body
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = value
    return body


def _check(status: int, content: bytes, body: Any = None) -> None:
    """Only a 4xx with a JSON error, or a well-formed review echoing the request."""
    assert status in {200, 400, 413, 415}, (status, content[:200])
    answer = orjson.loads(content)
    if status != 200:
        assert isinstance(answer["error"], str) and answer["error"]
        return
    assert answer["kind"] == "AdmissionReview"
    response = answer["response"]
    assert isinstance(response["allowed"], bool)
    if isinstance(body, dict):
        assert answer["apiVersion"] == body["apiVersion"]
        assert response["uid"] == body["request"]["uid"]


class _Errors(logging.Handler):
    """Collects error records: an unexpected exception is a bug even when answered 400."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    errors = _Errors()
    logging.getLogger("injector").addHandler(errors)
    try:
        with TestClient(create_app(State(engine=ENGINE))) as client:
            yield client
    finally:
        logging.getLogger("injector").removeHandler(errors)
    assert [r.getMessage() for r in errors.records] == []


@given(body=st.binary(max_size=2048))
def test_arbitrary_bytes_get_a_4xx_or_a_review(client: TestClient, body: bytes) -> None:
    response = client.post("/inject", content=body, headers=JSON_HEADERS)
    _check(response.status_code, response.content)


@given(body=json_values)
def test_arbitrary_json_gets_a_4xx_or_a_review(client: TestClient, body: Any) -> None:
    response = client.post("/inject", content=json.dumps(body).encode(), headers=JSON_HEADERS)
    _check(response.status_code, response.content, body)


@given(body=near_reviews())
def test_almost_valid_reviews_get_a_4xx_or_a_well_formed_review(
    client: TestClient, body: Any
) -> None:
    response = client.post("/inject", content=json.dumps(body).encode(), headers=JSON_HEADERS)
    _check(response.status_code, response.content, body)
    assert client.get("/healthz").status_code == 200


def test_the_real_server_survives_a_fuzz_burst_and_stays_healthy(tmp_path: Path) -> None:
    rng = random.Random(20261122)
    samples = [rng.randbytes(rng.randrange(512)) for _ in range(30)]
    weird: list[Any] = [None, [], {}, "", 0, -1, 2**70, "\u0000", {"a": [1, {"b": None}]}]
    for path in NEAR_REVIEW_PATHS:
        body = support.review(
            {"metadata": {}, "spec": {"containers": [{"name": "a", "image": "b"}]}}
        )
        holder = body
        for key in path[:-1]:
            holder = holder[key]
        holder[path[-1]] = rng.choice(weird)
        samples.append(json.dumps(body).encode())
    with (
        servers.running(tmp_path) as instance,
        httpx.Client(verify=instance.client_context(), timeout=10) as http,
    ):
        for body in samples:
            response = http.post(f"{instance.url}/inject", content=body, headers=JSON_HEADERS)
            _check(response.status_code, response.content)
        assert http.get(f"{instance.url}/healthz").status_code == 200
        metrics = http.get(f"{instance.url}/metrics").text
    assert 'sidecar_injector_bad_calls_total{status="400"}' in metrics
