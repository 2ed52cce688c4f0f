"""Structured logs: one JSON object per line on stderr (or plain text for a terminal).

A dozen lines of stdlib `logging` do this; a logging library would add a dependency to
the image for no feature we use.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson

# Attributes every LogRecord has; anything else was passed with `extra=` and is logged.
# uvicorn passes `color_message` (its message with ANSI colour escapes) for terminals:
# never in JSON.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class _UvicornName(logging.Filter):
    """uvicorn logs its server's life (started, stopping) as `uvicorn.error`, a name
    kept from its past that reads as an error at info level: those lines say `uvicorn`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "uvicorn.error":
            record.name = "uvicorn"
        return True


class Urllib3AtDebug(logging.Filter):
    """urllib3's own lines (retries, pool warnings) are shown only at debug: the API
    client says what failed, once (injector.cluster.reachability)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.split(".")[0] != "urllib3" or record.levelno <= logging.DEBUG:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


def setup(*, level: str = "info", fmt: str = "json") -> None:
    """Route our loggers and uvicorn's through one handler."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_UvicornName())
    if fmt == "json":
        handler.setFormatter(JSONFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(Urllib3AtDebug())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # One line per admission call is already logged by the app.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
