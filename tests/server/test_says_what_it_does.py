"""The server says what it does: where it listens (once it does), where its certificates
come from, one line per decision for a person at a terminal, bad calls at debug, one
error shape on every path, JSON logs without terminal colours, and a shutdown that hands
the Lease over before anything else."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from support import http_cases, servers

from injector.core.engine import Engine
from injector.server import process
from injector.server.app import State, create_app
from injector.telemetry import logs


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        pytest.param("GET", "/nowhere", 404, id="unknown-path"),
        pytest.param("POST", "/healthz", 405, id="wrong-method-on-fastapi"),
        pytest.param("GET", "/inject", 405, id="wrong-method-on-inject"),
        pytest.param("POST", "/inject", 415, id="no-content-type"),
    ],
)
def test_every_error_body_has_one_shape(
    engine: Engine, method: str, path: str, status: int
) -> None:
    with TestClient(create_app(State(engine=engine))) as client:
        response = client.request(method, path)
    assert response.status_code == status
    body = response.json()
    assert list(body) == ["error"] and isinstance(body["error"], str) and body["error"]


def test_text_mode_logs_one_line_per_decision(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="injector.app")
    with TestClient(create_app(State(engine=engine, decisions_at_info=True))) as client:
        client.post("/inject", json=http_cases.load_fixture("create-pod"))
    lines = [r.getMessage() for r in caplog.records if r.name == "injector.app"]
    assert len(lines) == 1
    assert lines[0].startswith("injected ")


def test_json_mode_keeps_routine_decisions_at_debug(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="injector.app")
    with TestClient(create_app(State(engine=engine))) as client:
        client.post("/inject", json=http_cases.load_fixture("create-pod"))
    assert [r for r in caplog.records if r.name == "injector.app"] == []


def test_a_bad_call_is_logged_at_debug_with_its_status_and_reason(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="injector.app")
    with TestClient(create_app(State(engine=engine))) as client:
        client.post("/inject", content=b"{", headers={"content-type": "application/json"})
    (record,) = [r for r in caplog.records if r.name == "injector.app"]
    assert record.levelno == logging.DEBUG
    assert record.__dict__["status"] == 400
    assert "not valid JSON" in record.__dict__["reason"]


def test_json_logs_carry_no_terminal_colour_escapes() -> None:
    record = logging.makeLogRecord(
        {"msg": "Finished server process [%d]", "args": (7,),
         "color_message": "Finished server process [\x1b[36m%d\x1b[0m]"}
    )  # fmt: skip
    line = logs.JSONFormatter().format(record)
    assert "\x1b" not in line and "\\u001b" not in line
    assert json.loads(line)["msg"] == "Finished server process [7]"


class _Probe(logging.Handler):
    """On the "listening" line, tries its port: it must already accept connections."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, bool]] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("listening on"):
            port = int(message.rsplit(":", 1)[1].split("/")[0])
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                self.seen.append((message, True))
            except OSError:
                self.seen.append((message, False))


def test_the_url_is_logged_once_listening_with_the_certificate_directory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    logger = logging.getLogger("injector.server")
    probe = _Probe()
    logger.addHandler(probe)
    try:
        with servers.running(tmp_path) as server:
            pass
    finally:
        logger.removeHandler(probe)
    url = f"https://127.0.0.1:{server.port}/inject"
    assert probe.seen == [(f"listening on {url}", True)]
    certificates = [r.getMessage() for r in caplog.records if "certificates:" in r.getMessage()]
    assert any(str(tmp_path / "certs") in line for line in certificates), certificates


def test_on_shutdown_the_background_stops_before_uvicorn_waits_for_connections(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    order: list[str] = []

    class Leader:
        def start(self) -> None:
            order.append("start")

        def stop(self) -> None:
            order.append("lease released")

    async def uvicorn_shutdown(_self: uvicorn.Server, sockets: object = None) -> None:
        order.append("uvicorn shutdown")

    monkeypatch.setattr(uvicorn.Server, "shutdown", uvicorn_shutdown)
    config = uvicorn.Config(create_app(State(engine=engine)))
    server = process.DrainingServer(config, State(engine=engine), 0, background=[Leader()])
    asyncio.run(server.shutdown())
    assert order == ["lease released", "uvicorn shutdown"]


@pytest.mark.parametrize(
    ("level", "shown"),
    [pytest.param("info", False, id="info"), pytest.param("debug", True, id="debug")],
)
def test_urllib3s_own_warnings_are_shown_only_at_debug(level: str, shown: bool) -> None:
    root = logging.getLogger()
    handlers, root_level = root.handlers[:], root.level
    try:
        logs.setup(level=level, fmt="text")
        handler = root.handlers[0]
        record = logging.makeLogRecord(
            {"name": "urllib3.connectionpool", "levelno": logging.WARNING, "msg": "Retrying"}
        )
        assert bool(handler.filter(record)) is shown
        assert record.levelname == "DEBUG"
        ours = logging.makeLogRecord({"name": "injector.api", "levelno": logging.WARNING})
        assert handler.filter(ours) and ours.levelno == logging.WARNING
    finally:
        root.handlers[:] = handlers
        root.setLevel(root_level)
