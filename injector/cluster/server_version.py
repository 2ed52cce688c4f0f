"""The API server's version: whether it runs native sidecars, asked at start and then
periodically, and the version itself for the webhook configuration's rendering.

Native sidecars (an init container with `restartPolicy: Always`) are beta and on by
default from Kubernetes 1.29 (alpha and off in 1.28). In `nativeSidecar: auto` mode the
engine injects the proxy that way when `engine.native_supported` is True, and as a
classic sidecar when it is False or None (not known yet). This loop sets it.

The answer is the API server's version, as Kuma does, not every kubelet's (Istio's way,
which needs to list Nodes): during an upgrade a kubelet older than 1.29 would run such a
Pod's proxy as a plain init container that never ends. Set `nativeSidecar: "false"`
while nodes lag behind the control plane.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from injector.cluster import kubeapi
from injector.cluster.backoff import Backoff
from injector.cluster.reachability import level_for
from injector.telemetry.metrics import Metrics

log = logging.getLogger("injector.versions")

NATIVE_SIDECARS_SINCE = (1, 29)
# An upgrade of the control plane is rare: every 10 minutes is soon enough.
REFRESH_SECONDS = 600.0
RETRY_SECONDS = 15.0


def native_supported(version: tuple[int, int]) -> bool:
    """True for a (major, minor) at or after 1.29."""
    return version >= NATIVE_SIDECARS_SINCE


class VersionCheck:
    """Asks `GET /version` and hands the verdict to `publish` (e.g. set it on the
    current engine). A failed ask keeps the last verdict and retries sooner."""

    def __init__(
        self,
        cluster: kubeapi.Cluster,
        publish: Callable[[bool], None],
        *,
        metrics: Metrics | None = None,
        refresh_seconds: float = REFRESH_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self.cluster, self.publish, self.metrics = cluster, publish, metrics
        self.refresh_seconds, self.retry_seconds = refresh_seconds, retry_seconds
        self.supported: bool | None = None

    def check(self) -> bool | None:
        """Ask once; the verdict, or None when the server could not be asked."""
        try:
            version = self.cluster.version()
        except Exception as err:  # any failure: keep what we knew
            log.log(level_for(err), "cannot read the API server's version: %s", err)
            return None
        supported = native_supported(version)
        if supported != self.supported:
            log.info(
                "API server %d.%d: %s sidecars",
                *version,
                "native" if supported else "classic",
                extra={"native": supported},
            )
        self.supported = supported
        self.publish(supported)
        if self.metrics is not None:
            self.metrics.native_sidecars.set(int(supported))
        return supported

    def run(self, stop: threading.Event) -> None:
        """Check again every `refresh_seconds` until `stop` is set; after a failure,
        from `retry_seconds` on, with backoff and jitter. The first `check` is the
        caller's, before it starts serving."""
        backoff = Backoff(
            first=self.retry_seconds, cap=max(self.retry_seconds, self.refresh_seconds)
        )
        delay = self.refresh_seconds if self.supported is not None else backoff.failed()
        while not stop.wait(delay):
            if self.check() is not None:
                backoff.succeeded()
                delay = self.refresh_seconds
            else:  # after a failure: sooner than a refresh, later each time, with jitter
                delay = backoff.failed()


class KnownVersion:
    """The server's (major, minor) for a rendering, asked on first use and again once
    `refresh_seconds` have passed. A failed ask answers what was known (None at first:
    the rendering then leaves out what needs a newer server) and asks again next time.
    Nothing is asked before the first call."""

    def __init__(
        self,
        cluster: kubeapi.Cluster,
        *,
        refresh_seconds: float = REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cluster, self.refresh_seconds, self.clock = cluster, refresh_seconds, clock
        self.known: tuple[int, int] | None = None
        self._asked_at: float | None = None

    def __call__(self) -> tuple[int, int] | None:
        now = self.clock()
        if self._asked_at is not None and now - self._asked_at < self.refresh_seconds:
            return self.known
        try:
            self.known = self.cluster.version()
        except Exception as err:  # any failure: keep what we knew, ask again next time
            log.log(level_for(err), "cannot read the API server's version: %s", err)
            return self.known
        self._asked_at = now
        return self.known
