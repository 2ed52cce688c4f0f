"""Keeping a local view of cluster objects: list, then watch, and start over on trouble.

The same loop serves every watched kind (namespaces, our webhook configuration, the
certificate Secret): a full list gives a consistent snapshot and a resourceVersion; the
watch then streams changes from that version. When the watch ends it is reopened from the
last version seen; when that version is too old (410 Gone) or anything fails, the loop
lists again after a growing pause with jitter (`backoff`), at least as long as a
Retry-After the server sent. It never raises: the hot path never waits on it. While the
API server is unavailable its failures are logged at debug: `reachability` says it once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

from injector.cluster import reachability
from injector.cluster.backoff import Backoff
from injector.cluster.transport import ApiError

log = logging.getLogger("injector.watch")

Object = dict[str, Any]


class Expired(Exception):
    """The watch's resourceVersion is too old; a new list is needed."""


def _events(stream: Iterator[Object], version: list[str]) -> Iterator[tuple[str, Object]]:
    """Yield (type, object) and keep `version[0]` at the last resourceVersion seen."""
    for event in stream:
        kind, obj = str(event.get("type", "")), event.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise Expired(obj.get("message", "resource version too old"))
            raise RuntimeError(f"watch error: {obj.get('message', obj)}")
        version[0] = str((obj.get("metadata") or {}).get("resourceVersion", version[0]))
        if kind != "BOOKMARK":
            yield kind, obj


def follow(
    *,
    what: str,
    list_objects: Callable[[], tuple[list[Object], str]],
    watch: Callable[[str], Iterator[Object]],
    on_sync: Callable[[list[Object]], None],
    on_event: Callable[[str, Object], None],
    stop: threading.Event,
    first_retry: float = 0.5,
    max_retry: float = 30.0,
    on_error: Callable[[Exception], None] | None = None,
) -> None:
    """Run until `stop` is set: `on_sync` gets each full list, `on_event` each change.
    `on_error`, when given, is told of each failure instead of the log (a caller that
    reports a failure once, not at every retry)."""
    backoff = Backoff(first=first_retry, cap=max_retry)
    while not stop.is_set():
        try:
            items, resource_version = list_objects()
            on_sync(items)
            backoff.succeeded()
            version = [resource_version]
            while not stop.is_set():
                for kind, obj in _events(watch(version[0]), version):
                    on_event(kind, obj)
                    if stop.is_set():
                        return
        except Expired:
            log.info("watch expired; listing again", extra={"what": what})
            continue
        except Exception as err:  # any failure: keep the last view, try again later
            wait = err.retry_after if isinstance(err, ApiError) else None
            delay = backoff.failed(wait)
            if on_error is not None:
                on_error(err)
            else:
                level = reachability.level_for(err)
                extra = {"what": what, "retry": round(delay, 2)}
                log.log(level, "watch failed: %s", err, extra=extra)
            stop.wait(delay)
            continue
        stop.wait(backoff.first)


def start(name: str, target: Callable[[], None]) -> threading.Thread:
    """Run a loop on a daemon thread (it ends with the process)."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread
