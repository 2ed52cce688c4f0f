"""Which replica issues certificates: a `coordination.k8s.io` Lease, held by renewing it.

The decisions are pure functions of (the Lease as read, who we are, now): create it when
absent, renew it when ours, take it over when released or when `renewTime +
leaseDurationSeconds` has passed, else wait. Every write carries the resourceVersion read
before it, so of two replicas acting on the same Lease exactly one succeeds (409 for the
other). Nobody leads for life: a leader that cannot renew stops acting as leader after
`renew deadline` (2/3 of the lease duration), a third of the duration before anyone may
take over, and a follower looks again right when the Lease expires.

Why not `kubernetes.leaderelection` (37.x has a LeaseLock): it goes through the typed
client's global configuration (not our cluster edge, so not testable against the fake
API and not restricted to plain dicts), calls `sys.exit()` on bad settings, loops with
`time.sleep` without a way to stop it, refuses periods under one second (slow tests),
and after losing the lease returns for good instead of standing again.
"""

from __future__ import annotations

import datetime
import enum
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from injector.certs import issuing
from injector.certs.loops import Loop
from injector.cluster import kubeapi, reachability
from injector.cluster.backoff import Backoff

log = logging.getLogger("injector.leader")

Lease = dict[str, Any]


class Action(enum.Enum):
    WAIT = "wait"  # someone else holds a live lease
    CREATE = "create"  # there is no lease
    RENEW = "renew"  # the lease is ours
    TAKE_OVER = "take_over"  # the lease was released, is malformed or has expired


def micro_time(moment: datetime.datetime) -> str:
    """Kubernetes MicroTime: RFC 3339 with microseconds, in UTC."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _spec(lease: Lease | None) -> dict[str, Any]:
    spec = (lease or {}).get("spec")
    return spec if isinstance(spec, dict) else {}


def holder(lease: Lease | None) -> str:
    return str(_spec(lease).get("holderIdentity") or "")


def expires_at(lease: Lease | None) -> datetime.datetime | None:
    """renewTime + leaseDurationSeconds, or None when the Lease does not say."""
    spec = _spec(lease)
    renewed, duration = spec.get("renewTime"), spec.get("leaseDurationSeconds")
    if not isinstance(renewed, str) or not isinstance(duration, int) or duration <= 0:
        return None
    try:
        moment = datetime.datetime.fromisoformat(renewed)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment + datetime.timedelta(seconds=duration)


def decide(lease: Lease | None, *, identity: str, now: datetime.datetime) -> Action:
    if lease is None:
        return Action.CREATE
    if holder(lease) == identity:
        return Action.RENEW
    expiry = expires_at(lease)
    if not holder(lease) or expiry is None or expiry < now:
        return Action.TAKE_OVER
    return Action.WAIT


def claimed(
    lease: Lease | None,
    *,
    name: str,
    namespace: str,
    identity: str,
    duration: int,
    now: datetime.datetime,
) -> Lease:
    """The Lease to write to hold it from `now` (create, renew or take over)."""
    spec = _spec(lease)
    ours = holder(lease) == identity
    transitions = int(spec.get("leaseTransitions") or 0) + (0 if ours or lease is None else 1)
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if lease is not None:
        metadata = {**lease.get("metadata", {}), **metadata}
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": metadata,
        "spec": {
            "holderIdentity": identity,
            "leaseDurationSeconds": duration,
            "acquireTime": spec.get("acquireTime") if ours else micro_time(now),
            "renewTime": micro_time(now),
            "leaseTransitions": transitions,
        },
    }


def released(lease: Lease, *, now: datetime.datetime) -> Lease:
    """Give the Lease up (on a clean shutdown), so the next leader need not wait."""
    spec = {**_spec(lease), "holderIdentity": "", "leaseDurationSeconds": 1}
    return {**lease, "spec": {**spec, "renewTime": micro_time(now)}}


class Elector:
    """Holds or waits for the Lease on a background thread; `is_leader()` is cheap."""

    def __init__(
        self,
        cluster: kubeapi.Cluster,
        *,
        namespace: str,
        name: str,
        identity: str,
        duration: int = 15,
        clock: Callable[[], datetime.datetime] = issuing.now_utc,
        monotonic: Callable[[], float] = time.monotonic,
        on_change: Callable[[bool], None] = lambda leading: None,
    ) -> None:
        self.cluster, self.namespace, self.name = cluster, namespace, name
        self.identity, self.duration, self.clock = identity, duration, clock
        self.monotonic = monotonic
        self.on_change = on_change
        self._leading_until = 0.0  # time.monotonic() until which we may act as leader
        self._reported = False  # what on_change was last told
        self._lease: Lease | None = None
        self._lock = threading.Lock()
        # After a failed round for want of an API server: look again with backoff, never
        # later than a renewal is due.
        self._backoff = Backoff(first=min(self.renew_every, 1.0), cap=self.renew_every)
        self._retry_in: float | None = None
        self.loop = Loop("leader-election", self.attempt)

    @property
    def renew_every(self) -> float:
        return self.duration / 3

    def is_leader(self) -> bool:
        return self.monotonic() < self._leading_until

    def attempt(self) -> float:
        """One round: read, decide, write. Returns seconds until the next round."""
        started = self.monotonic()
        with self._lock:
            action, lease = self._round()
        if action is Action.WAIT:
            self._leading_until = 0.0
        elif lease is not None and holder(lease) == self.identity:
            self._leading_until = started + self.duration * 2 / 3
        # On a failed round leadership is left to lapse at its deadline.
        self._report(self.is_leader())
        return self._next_round(action)

    def _report(self, leading: bool) -> None:
        if leading != self._reported:
            self._reported = leading
            log.info("leadership changed", extra={"leader": leading, "id": self.identity})
            self.on_change(leading)

    def _round(self) -> tuple[Action | None, Lease | None]:
        """(what was decided, the Lease as written or read); (None, None) on failure."""
        try:
            current = self.cluster.get_lease(self.namespace, self.name)
            action = decide(current, identity=self.identity, now=self.clock())
            if action is Action.WAIT:
                self._lease = current
                return action, current
            wanted = self._claim(current)
            if current is None:
                self._lease = self.cluster.create_lease(self.namespace, wanted)
            else:
                self._lease = self.cluster.replace_lease(self.namespace, wanted)
            return action, self._lease
        except Exception as err:  # a conflict (another replica was faster) or no API
            self._retry_in = None
            if reachability.unavailable(err):
                assert isinstance(err, kubeapi.ApiError)
                self._retry_in = self._backoff.failed(err.retry_after)
            level = reachability.level_for(err, logging.INFO)
            log.log(level, "lease round failed: %s", err, extra={"id": self.identity})
            return None, None

    def _claim(self, current: Lease | None) -> Lease:
        return claimed(
            current,
            name=self.name,
            namespace=self.namespace,
            identity=self.identity,
            duration=self.duration,
            now=self.clock(),
        )

    def _next_round(self, action: Action | None) -> float:
        if action is None and self._retry_in is not None:  # no API server: back off
            return min(self._retry_in, self.renew_every)
        if action is None:  # look again soon: a conflict means the Lease just changed
            return min(self.renew_every, 1.0)
        self._backoff.succeeded()
        expiry = expires_at(self._lease) if action is Action.WAIT else None
        if expiry is None:
            return self.renew_every
        until_expiry = (expiry - self.clock()).total_seconds() + 0.05
        return max(0.05, min(self.renew_every, until_expiry))

    def start(self) -> None:
        self.loop.start()

    def stop(self, *, release: bool = True) -> None:
        """Stop; a leader gives the Lease up so a successor need not wait it out."""
        self.loop.stop()
        leading, self._leading_until = self.is_leader(), 0.0
        self._report(False)
        if not (release and leading and self._lease is not None):
            return
        try:
            self.cluster.replace_lease(self.namespace, released(self._lease, now=self.clock()))
        except Exception as err:
            log.info("lease not released: %s", err, extra={"id": self.identity})
