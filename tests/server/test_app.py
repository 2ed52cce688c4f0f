"""The HTTP edge through FastAPI's TestClient: fixtures, bad calls, health and metrics."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator

import jsonpatch
import orjson
import pytest
import support
from fastapi.testclient import TestClient
from support import http_cases

from injector.core.engine import Engine
from injector.server.app import State, create_app


@pytest.fixture
def state(engine: Engine) -> State:
    return State(engine=engine)


@pytest.fixture
def client(state: State) -> Iterator[TestClient]:
    with TestClient(create_app(state)) as client:
        yield client


@pytest.mark.parametrize("name", http_cases.fixture_params())
def test_fixture_is_answered_as_the_contract_says(client: TestClient, name: str) -> None:
    response = client.post("/inject", json=http_cases.load_fixture(name))
    assert response.headers["content-type"] == "application/json"
    http_cases.check_answer(name, response.status_code, response.json())


@pytest.mark.parametrize(("body", "content_type", "status"), http_cases.BAD_CALLS)
def test_a_broken_call_gets_a_4xx_with_a_json_error(
    client: TestClient, body: bytes, content_type: str | None, status: int
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/inject", content=body, headers=headers)
    assert response.status_code == status
    error = response.json()["error"]
    assert isinstance(error, str) and error and "Traceback" not in error
    assert client.get("/healthz").status_code == 200


def test_content_type_parameters_are_accepted(client: TestClient) -> None:
    response = client.post(
        "/inject",
        content=http_cases.VALID.encode(),
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200
    assert response.json()["response"]["allowed"] is True


def test_a_body_over_the_limit_is_refused_by_its_declared_length(
    make_engine: object,
) -> None:
    engine = make_engine({"server": {"maxBodyBytes": 2048}})  # type: ignore[operator]
    with TestClient(create_app(State(engine=engine))) as client:
        body = b'{"pad": "' + b"x" * 4096 + b'"}'
        response = client.post("/inject", content=body, headers={"content-type": JSON})
        assert response.status_code == 413


def test_a_chunked_body_over_the_limit_is_refused(make_engine: object) -> None:
    engine = make_engine({"server": {"maxBodyBytes": 2048}})  # type: ignore[operator]

    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"x" * 1024

    with TestClient(create_app(State(engine=engine))) as client:
        response = client.post("/inject", content=chunks(), headers={"content-type": JSON})
    assert response.status_code == 413


JSON = "application/json"


def test_get_on_the_webhook_path_is_not_allowed(client: TestClient) -> None:
    assert client.get("/inject").status_code == 405


def test_health_and_readiness(engine: Engine) -> None:
    ready = [False]
    app = create_app(State(engine=engine, ready=lambda: ready[0]))
    with TestClient(app) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").status_code == 503
        ready[0] = True
        assert client.get("/readyz").status_code == 200


def test_metrics_count_requests_by_result_and_reason(client: TestClient) -> None:
    client.post("/inject", json=http_cases.load_fixture("create-pod"))
    client.post("/inject", json=http_cases.load_fixture("create-pod-opt-out"))
    client.post("/inject", content=b"[]", headers={"content-type": JSON})
    text = client.get("/metrics").text
    assert (
        'sidecar_injector_admission_requests_total{reason="namespace_selector_trusted",'
        'result="injected"} 1.0' in text
    )
    assert (
        'sidecar_injector_admission_requests_total{reason="pod_annotation_disabled",'
        'result="skipped"} 1.0' in text
    )
    assert 'sidecar_injector_bad_calls_total{status="400"} 1.0' in text
    assert 'sidecar_injector_admission_duration_seconds_bucket{le="0.0005"}' in text
    assert "sidecar_injector_admission_duration_seconds_count 2.0" in text


async def _call(app: object, body_messages: list[dict[str, object]]) -> list[dict[str, object]]:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/inject",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"100")],
    }
    pending, sent = list(body_messages), []

    async def receive() -> dict[str, object]:
        return pending.pop(0)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    await app(scope, receive, send)  # type: ignore[operator]
    return sent


def test_a_client_that_disconnects_mid_body_gets_nothing_and_logs_nothing(
    state: State, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio

    messages = [
        {"type": "http.request", "body": b'{"apiVersion":', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent = asyncio.run(_call(create_app(state), messages))
    assert sent == []
    assert [r for r in caplog.records if r.levelno >= 30] == []
    samples = state.metrics.registry.get_sample_value(
        "sidecar_injector_bad_calls_total", {"status": "disconnect"}
    )
    assert samples == 1.0


def test_an_injected_pod_seen_again_gets_no_patch_no_warning_and_no_info_log(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    pod = {
        "metadata": {"generateName": "web-", "namespace": "shop"},
        "spec": {"containers": [{"name": "web", "image": "nginx"}]},
    }
    first = client.post("/inject", json=support.review(pod)).json()["response"]
    ops = orjson.loads(base64.b64decode(first["patch"]))
    injected = jsonpatch.apply_patch(pod, ops)
    with caplog.at_level(logging.DEBUG, logger="injector"):
        again = client.post("/inject", json=support.review(injected)).json()["response"]
    assert again["allowed"] is True
    assert {"patch", "patchType", "warnings"}.isdisjoint(again)
    assert again["auditAnnotations"]["reasons"] == "already_injected"
    logged = [r for r in caplog.records if r.name.startswith("injector")]
    assert logged and all(r.levelno < logging.INFO for r in logged)


def test_a_pod_sent_again_under_a_new_uid_is_remembered_by_the_body_it_came_in(
    client: TestClient, state: State, pod: dict[str, object]
) -> None:
    answers = []
    for uid in ("uid-1", "uid-2"):
        body = orjson.dumps(support.review(pod, uid=uid))
        response = client.post("/inject", content=body, headers={"content-type": JSON})
        assert response.status_code == 200
        answers.append(response.json()["response"])
    assert [a.pop("uid") for a in answers] == ["uid-1", "uid-2"]
    assert answers[0] == answers[1]
    assert "patch" in answers[0]
    # One remembered outcome, keyed by the body after its uid (not the Pod re-serialized).
    assert [context[:7] for _content, context in state.engine._outcomes] == [b'["body"']
