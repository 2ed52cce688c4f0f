"""Kubernetes Events that explain injection, reported on the Pod's owner.

`Injected` or `InjectionSkipped` (with the reasons' sentences) goes on the Pod's
controller, such as its ReplicaSet or Job, where `kubectl describe` shows it: at
admission the Pod has no uid yet, and a generated name, so it cannot carry the Event
itself (Linkerd made the same choice). A Pod without a controller gets no Event, a dry
run never does (the webhook declares `sideEffects: NoneOnDryRun`), and neither does a
refused Pod: its controller already reports the refusal, our message included, as a
FailedCreate Event.

Whoever can reach the webhook port can send a review, so an Event says nothing a caller
wrote unless it is a well-formed object name (a Pod's generated name, its controller's
kind and name); no Event is written into a system namespace or the injector's own
(`excluded`); and each namespace gets at most `BURST` Events, then one per
`REFILL_SECONDS`. With `serve --client-ca-file` only kube-apiserver gets through the
TLS handshake, so every review, and every Event, comes from an authenticated caller;
without it the injector cannot tell, and these rules are what bounds a stranger.

Building an Event (`build`) is pure. Sending is `EventSender`: the webhook only puts the
answer on a bounded queue, which never blocks (a full queue drops the Event and counts
it), and one background thread POSTs core/v1 Events from it. While the API server is
unavailable (`reachability`) an Event is dropped at once and counted: the queue would
only fill with Events that each wait out a timeout.
"""

from __future__ import annotations

import datetime
import logging
import os
import queue
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Collection
from typing import Any

from injector.cluster import kubeapi, reachability
from injector.core import grammar, policy
from injector.core.handler import Handled
from injector.telemetry.metrics import Metrics

log = logging.getLogger("injector.events")

COMPONENT = "sidecar-injector"
INJECTED, SKIPPED = "Injected", "InjectionSkipped"
# Required (with reportingComponent and reportingInstance) once eventTime is set.
ACTION = "Inject"
# kube-apiserver's limits: message (note) 1024, reportingInstance 128, name 253.
MESSAGE_LIMIT, INSTANCE_LIMIT, NAME_LIMIT = 1024, 128, 253
QUEUE_CAPACITY = 512
# At most one log line about failed Events per this many seconds.
LOG_EVERY_SECONDS = 60.0
# Per namespace: a burst of this many Events, then one every REFILL_SECONDS.
BURST, REFILL_SECONDS = 20, 3.0
# Namespaces whose budget is tracked; past it the table starts again (each gets a burst).
_TRACKED_NAMESPACES = 10_000
# What a caller's text must look like to be written into an Event.
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", re.ASCII)
_GENERATED_NAME = re.compile(r"[a-z0-9][-a-z0-9.]{0,252}", re.ASCII)
_KIND = re.compile(r"[A-Z][A-Za-z0-9]{0,62}", re.ASCII)
_API_VERSION = re.compile(
    r"([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?v[0-9]+([a-z]+[0-9]+)?", re.ASCII
)
_UID = re.compile(r"[A-Za-z0-9-]{1,128}", re.ASCII)


def reporting_instance() -> str:
    """This replica's name (POD_NAME from the Downward API), else the host name."""
    return (os.environ.get("POD_NAME") or socket.gethostname())[:INSTANCE_LIMIT]


def _well_formed(handled: Handled) -> bool:
    """Every caller-written string an Event would carry looks like an object name."""
    owner = handled.owner
    return (
        owner is not None
        and grammar.DNS_LABEL.fullmatch(handled.namespace) is not None
        and _DNS_SUBDOMAIN.fullmatch(owner.name) is not None
        and _KIND.fullmatch(owner.kind) is not None
        and _API_VERSION.fullmatch(owner.api_version) is not None
        and _UID.fullmatch(owner.uid) is not None
    )


def wanted(handled: Handled, excluded: Collection[str] = ()) -> bool:
    """Whether an answer deserves an Event (see the module docstring for why not)."""
    return (
        not handled.dry_run
        and handled.result in ("injected", "skipped")
        and handled.namespace not in excluded
        and _well_formed(handled)
    )


def _message(handled: Handled) -> str:
    sentences = "; ".join(policy.SENTENCES.get(r, "") for r in handled.reasons)
    what = "injected into" if handled.result == "injected" else "not injected into"
    name = handled.name if _GENERATED_NAME.fullmatch(handled.name) else ""
    pod = f"Pod {name}" if name else "a Pod"
    return f"sidecar {what} {pod}: {sentences}"[:MESSAGE_LIMIT]


class NamespaceBudget:
    """A token bucket per namespace: `BURST` Events at once, then one per `REFILL_SECONDS`."""

    def __init__(self, *, burst: int = BURST, refill_seconds: float = REFILL_SECONDS) -> None:
        self.burst, self.refill_seconds = burst, refill_seconds
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, namespace: str, now: float) -> bool:
        """Spend one Event of `namespace`'s budget at `now` (monotonic seconds), if any."""
        if len(self._buckets) >= _TRACKED_NAMESPACES and namespace not in self._buckets:
            self._buckets.clear()
        tokens, since = self._buckets.get(namespace, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - since) / self.refill_seconds)
        if tokens < 1:
            self._buckets[namespace] = (tokens, now)
            return False
        self._buckets[namespace] = (tokens - 1, now)
        return True


def build(
    handled: Handled, *, now: datetime.datetime, instance: str, suffix: str
) -> dict[str, Any]:
    """The core/v1 Event for an answer that `wanted` an Event."""
    owner = handled.owner
    if owner is None:
        raise ValueError("only an answer about a Pod with an owner gets an Event")
    injected = handled.result == "injected"
    noteworthy = policy.NOTEWORTHY.intersection(handled.reasons)
    now = now.astimezone(datetime.UTC)
    seconds = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            # client-go names Events <object>.<unique hex> too.
            "name": f"{owner.name[: NAME_LIMIT - len(suffix) - 1]}.{suffix}",
            "namespace": handled.namespace,
        },
        "involvedObject": {
            "apiVersion": owner.api_version,
            "kind": owner.kind,
            "name": owner.name,
            "uid": owner.uid,
            "namespace": handled.namespace,
        },
        "reason": INJECTED if injected else SKIPPED,
        "message": _message(handled),
        "type": "Warning" if noteworthy and not injected else "Normal",
        "source": {"component": COMPONENT},
        "firstTimestamp": seconds,
        "lastTimestamp": seconds,
        # A MicroTime: RFC 3339 with exactly six fractional digits.
        "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "count": 1,
        "action": ACTION,
        "reportingComponent": COMPONENT,
        "reportingInstance": instance,
    }


class EventSender:
    """A bounded queue of answers, and the thread that turns them into Events."""

    def __init__(
        self,
        cluster: kubeapi.Cluster,
        *,
        metrics: Metrics,
        capacity: int = QUEUE_CAPACITY,
        instance: str | None = None,
        excluded: Collection[str] = (),
        budget: NamespaceBudget | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cluster, self.metrics = cluster, metrics
        self.excluded = frozenset(excluded)
        self.budget, self.clock = budget or NamespaceBudget(), clock
        self.instance = instance or reporting_instance()
        self._queue: queue.Queue[tuple[Handled, datetime.datetime]] = queue.Queue(capacity)
        self._last_log = -LOG_EVERY_SECONDS

    def record(self, handled: Handled) -> None:
        """Called on the admission path: O(1), never blocks, never raises."""
        if not wanted(handled, self.excluded):
            return
        if self.cluster.reachability.away:
            self.metrics.events.labels("dropped").inc()
            return
        if not self.budget.take(handled.namespace, self.clock()):
            self.metrics.events.labels("limited").inc()
            return
        try:
            self._queue.put_nowait((handled, datetime.datetime.now(datetime.UTC)))
        except queue.Full:
            self.metrics.events.labels("dropped").inc()

    def run(self, stop: threading.Event) -> None:
        """Send queued Events until `stop` is set; what is still queued then is lost."""
        while not stop.is_set():
            try:
                handled, when = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self._send(handled, when)
            finally:
                self._queue.task_done()

    def wait_idle(self, timeout: float) -> bool:
        """True once every queued Event has been sent or failed (for tests)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def _send(self, handled: Handled, when: datetime.datetime) -> None:
        event = build(handled, now=when, instance=self.instance, suffix=secrets.token_hex(8))
        try:
            self.cluster.create_event(handled.namespace, event)
        except Exception as err:  # an Event is best effort; the admission is done
            self.metrics.events.labels("failed").inc()
            if time.monotonic() - self._last_log >= LOG_EVERY_SECONDS:
                self._last_log = time.monotonic()
                level = reachability.level_for(err)
                log.log(level, "cannot send an Event: %s", err, extra={"reason": event["reason"]})
            return
        self.metrics.events.labels("sent").inc()
