"""The log lines a person reads: uvicorn's lines about its server say `uvicorn`, not
`uvicorn.error`, at info."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from injector.telemetry import logs


@pytest.fixture
def restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


@pytest.mark.usefixtures("restored")
@pytest.mark.parametrize("fmt", ["json", "text"])
def test_uvicorns_server_lines_are_not_named_error(
    capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    logs.setup(level="info", fmt=fmt)
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 7)
    (line,) = capsys.readouterr().err.splitlines()
    if fmt == "json":
        entry = json.loads(line)
        assert (entry["logger"], entry["level"]) == ("uvicorn", "info")
    else:
        assert " INFO uvicorn Started server process [7]" in line
    assert "uvicorn.error" not in line
