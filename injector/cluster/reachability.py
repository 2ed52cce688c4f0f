"""Whether the API server answers, as every call of one `kubeapi.Cluster` sees it.

`Guarded` wraps a transport: each request and watch reports to a `Reachability`, which
keeps the log readable through an outage and the metrics an alert can use:
- one warning when a call first gets no answer (or a 429, or a 5xx), saying which call
  and why; then at most one "still unavailable" line per step of its own backoff
  (after 10 s, 20 s more, 40 s more, ... at most every 5 minutes); and one line when a
  call is answered again, with how long it took and how many calls failed meanwhile;
- `sidecar_injector_api_reachable` (1 or 0) and
  `sidecar_injector_api_failures_total{operation}` once `bind` gave it the metrics.
The loops that call the API log their own failures at debug level while the API server
is unavailable (`level_for`): this module speaks for all of them.

An answer that is an error (403, 404, 409, 422) proves the server reachable; only 404
and 409, the answers the callers expect, are not counted as failures.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from injector.cluster.transport import JSON, ApiError, Transport
from injector.telemetry.metrics import Metrics

log = logging.getLogger("injector.api")

FIRST_REPORT_SECONDS = 10.0
MAX_REPORT_SECONDS = 300.0
_EXPECTED = frozenset({404, 409})
_VERBS = {"POST": "create", "PUT": "replace", "PATCH": "apply", "DELETE": "delete"}


def unavailable(err: BaseException) -> bool:
    return isinstance(err, ApiError) and err.unavailable


def level_for(err: BaseException, otherwise: int = logging.WARNING) -> int:
    """The level a loop logs `err` at: debug when the API server is unavailable (this
    module has said so already), else `otherwise`."""
    return logging.DEBUG if unavailable(err) else otherwise


def operation(method: str, path: str, query: Mapping[str, str] | None = None) -> str:
    """A closed-set name for a call, e.g. "get leases", "watch secrets", "version"."""
    parts = path.strip("/").split("/")
    if parts[0] == "api":
        rest = parts[2:]
    elif parts[0] == "apis":
        rest = parts[3:]
    else:
        return parts[0] or "unknown"
    if len(rest) >= 3 and rest[0] == "namespaces":
        rest = rest[2:]
    if not rest:
        return "discovery"
    if method == "GET":
        verb = "watch" if (query or {}).get("watch") else "get" if len(rest) > 1 else "list"
    else:
        verb = _VERBS.get(method, method.lower())
    return f"{verb} {rest[0]}"


class Reachability:
    """The API server's state as the calls found it, with the log lines and metrics."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        first_report: float = FIRST_REPORT_SECONDS,
        max_report: float = MAX_REPORT_SECONDS,
    ) -> None:
        self.clock, self.first_report, self.max_report = clock, first_report, max_report
        self.reachable = True
        self._metrics: Metrics | None = None
        self._lock = threading.Lock()
        self._since = 0.0  # when it became unavailable
        self._failed = 0  # calls failed since
        self._report_at, self._report_every = 0.0, first_report

    @property
    def away(self) -> bool:
        return not self.reachable

    def bind(self, metrics: Metrics) -> None:
        self._metrics = metrics
        metrics.api_reachable.set(1 if self.reachable else 0)

    def answered(self) -> None:
        if self.reachable:  # the common case: no lock, nothing to say
            return
        with self._lock:
            if self.reachable:
                return
            self.reachable = True
            down, failed = self.clock() - self._since, self._failed
        if self._metrics is not None:
            self._metrics.api_reachable.set(1)
        log.warning(
            "API server reachable again after %.0fs; %d calls failed meanwhile",
            down,
            failed,
            extra={"unavailable_seconds": round(down, 1), "failed_calls": failed},
        )

    def failed(self, what: str, err: ApiError) -> None:
        """A call (`what`, from `operation`) raised `err`."""
        if err.status in _EXPECTED:
            self.answered()
            return
        if self._metrics is not None:
            self._metrics.api_failures.labels(what).inc()
        if not err.unavailable:
            self.answered()
            return
        with self._lock:
            line = self._note(what, err)
        if line is not None:
            log.warning(*line, extra={"operation": what})

    def _note(self, what: str, err: ApiError) -> tuple[Any, ...] | None:
        now = self.clock()
        if self.reachable:
            self.reachable, self._since, self._failed = False, now, 1
            self._report_every = self.first_report
            self._report_at = now + self._report_every
            if self._metrics is not None:
                self._metrics.api_reachable.set(0)
            return ("API server unavailable: %s failed: %s", what, err)
        self._failed += 1
        if now < self._report_at:
            return None
        self._report_every = min(self.max_report, self._report_every * 2)
        self._report_at = now + self._report_every
        return (
            "API server still unavailable after %.0fs (%d calls failed); last: %s failed: %s",
            now - self._since,
            self._failed,
            what,
            err,
        )


class Guarded:
    """A transport that reports every call's outcome to a Reachability."""

    def __init__(self, inner: Transport, reachability: Reachability) -> None:
        self.inner, self.reachability = inner, reachability

    def __getattr__(self, name: str) -> Any:  # the wrapped transport's own attributes
        return getattr(self.inner, name)

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = JSON,
    ) -> Any:
        try:
            answer = self.inner.request(
                method, path, query=query, body=body, content_type=content_type
            )
        except ApiError as err:
            self.reachability.failed(operation(method, path, query), err)
            raise
        self.reachability.answered()
        return answer

    def stream(self, path: str, *, query: Mapping[str, str]) -> Iterator[dict[str, Any]]:
        try:
            for event in self.inner.stream(path, query=query):
                self.reachability.answered()
                yield event
        except ApiError as err:
            self.reachability.failed(operation("GET", path, query), err)
            raise
        self.reachability.answered()
