"""Certificates in a cluster: N replicas, one issuer, one Secret, one published bundle.

- The replica holding the Lease (`leader.Elector`) takes the `authority` steps on the
  material in the Secret `sidecar-injector-certs` and writes it back with optimistic
  concurrency (POST: 409 means another replica created it; PUT with the resourceVersion
  read: 409 means it changed, so read again and decide again), then publishes the bundle
  (`cabundle.Publisher.ensure`). Even two replicas that both believe they lead (a
  partition, skewed clocks) cannot overwrite each other's material unseen.
- Every replica, the leader too, watches the Secret and the webhook configuration and
  serves the Secret's certificate only once the published caBundle trusts it
  (`authority.choose`); it is ready only while what it serves is trusted.
- When the Secret's certificate comes due and nothing fresher arrives (the API server
  is away), a replica renews its own from the published CA it holds (`outage`), and
  goes back to the Secret's once that offers one that is not due. A leader that cannot
  write the Secret retries with backoff (`cluster.backoff`), never in a tight loop.

Secret layout: `data` holds base64 of the files of `ca_material.to_files` (ca.crt is the
PEM bundle, old CA first during a rotation; ca.key; tls.crt; tls.key; ca-next.key while
a next CA waits to be published; ca-retire-after, when old CAs may be dropped).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from injector.certs import authority, ca_material, issuing, outage
from injector.certs.cabundle import Publisher
from injector.certs.directory_store import note_step
from injector.certs.leader import Elector
from injector.certs.loops import MIN_SLEEP_SECONDS, RETRY_SECONDS, Clock, Loop, seconds_until
from injector.certs.serving_cert import ServedCertificate
from injector.cluster import kubeapi, reachability, watch
from injector.cluster.backoff import Backoff
from injector.telemetry.metrics import Metrics

log = logging.getLogger("injector.certificates")

Secret = dict[str, Any]
LABELS = {
    "app.kubernetes.io/name": "sidecar-injector",
    "app.kubernetes.io/component": "certificates",
}


def secret_for(
    material: ca_material.Material, *, name: str, namespace: str, version: str | None
) -> Secret:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": dict(LABELS)}
    if version is not None:
        metadata["resourceVersion"] = version
    data = {
        key: base64.b64encode(value).decode("ascii")
        for key, value in ca_material.to_files(material).items()
    }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": "Opaque",
        "data": data,
    }


def material_of(secret: Secret | None) -> ca_material.Material | None:
    """The material in a Secret; None when there is none. ValueError when it is broken."""
    if secret is None:
        return None
    data = secret.get("data") or {}
    try:
        files = {key: base64.b64decode(value, validate=True) for key, value in data.items()}
        return ca_material.from_files(files)
    except (binascii.Error, KeyError, TypeError) as err:
        raise ValueError(f"incomplete or undecodable: {err}") from None


class SecretView:
    """The latest Secret seen (by its watch or our own writes)."""

    def __init__(self, cluster: kubeapi.Cluster, namespace: str, name: str) -> None:
        self.cluster, self.namespace, self.name = cluster, namespace, name
        self.secret: Secret | None = None
        self.synced = False
        self.on_change: Callable[[], None] = lambda: None

    def follow(self, stop: threading.Event) -> None:
        watch.follow(
            what="secret",
            list_objects=lambda: self.cluster.list_secret(self.namespace, self.name),
            watch=lambda version: self.cluster.watch_secret(self.namespace, self.name, version),
            on_sync=lambda items: self.set(items[0] if items else None, synced=True),
            on_event=lambda kind, obj: self.set(None if kind == "DELETED" else obj),
            stop=stop,
        )

    def set(self, secret: Secret | None, *, synced: bool = False) -> None:
        self.secret = secret
        self.synced = self.synced or synced
        self.on_change()

    def refresh(self) -> None:
        self.set(self.cluster.get_secret(self.namespace, self.name), synced=True)

    @property
    def version(self) -> str | None:
        if self.secret is None:
            return None
        return str(self.secret.get("metadata", {}).get("resourceVersion") or "") or None

    def save(self, material: ca_material.Material) -> None:
        """Create or replace (with the version read); raises ApiError, 409 on a lost race."""
        body = secret_for(material, name=self.name, namespace=self.namespace, version=self.version)
        if self.secret is None:
            self.set(self.cluster.create_secret(self.namespace, body))
        else:
            self.set(self.cluster.replace_secret(self.namespace, body))


class ClusterKeeper:
    """The certificate loop of one replica in a cluster (see the module docstring)."""

    def __init__(
        self,
        *,
        view: SecretView,
        publisher: Publisher,
        elector: Elector,
        served: ServedCertificate,
        settings: authority.Settings,
        metrics: Metrics,
        clock: Clock = issuing.now_utc,
        api_away: Callable[[], bool] | None = None,
    ) -> None:
        self.view, self.publisher, self.elector, self.served = view, publisher, elector, served
        self.settings, self.metrics, self.clock = settings, metrics, clock
        self.api_away = api_away or (lambda: self.view.cluster.reachability.away)
        self._local = False  # serving a certificate this replica issued itself
        self._backoff = Backoff()  # after a failed write
        self._write_after = 0.0  # time.monotonic() before which the leader writes nothing
        self.loop = Loop("certificates", self.tick)
        view.on_change = publisher.on_change = self.loop.wake
        elector.on_change = self._leadership
        self._refused: str | None = None  # resourceVersion of a Secret found unusable
        self._watches: list[threading.Thread] = []

    def _leadership(self, leading: bool) -> None:
        self.metrics.certificate_leader.set(1 if leading else 0)
        self.loop.wake()

    def start(self) -> None:
        stop = self.loop.stopping
        self._watches = [
            watch.start("certificate-secret-watch", lambda: self.view.follow(stop)),
            watch.start("cabundle-watch", lambda: self.publisher.follow(stop)),
        ]
        self.elector.start()
        self.loop.start()

    def stop(self, *, release: bool = True) -> None:
        """Stop every thread; `release=False` leaves the Lease to expire (a crash).
        The Lease goes first: from then on a tick of the loop is no longer the leader's
        and issues nothing, and a successor need not wait."""
        self.elector.stop(release=release)
        self.loop.stop()
        for thread in self._watches:  # daemon threads: a watch blocked in a read ends later
            thread.join(timeout=1)

    def ready(self) -> bool:
        """The served certificate chains to the published caBundle."""
        return self.publisher.published.trusts(self.served.current, self.clock())

    def _material(self) -> ca_material.Material | None:
        try:
            return material_of(self.view.secret)
        except ValueError as err:
            if self._refused != self.view.version:
                self._refused = self.view.version
                self.metrics.certificate_reload_failures.labels("secret").inc()
                log.warning("the certificate Secret is unusable: %s", err)
            return None

    def tick(self) -> float:
        now = self.clock()
        material, stepped = self._material(), False
        may_write = time.monotonic() >= self._write_after
        if self.elector.is_leader() and self.view.synced and may_write:
            material, stepped = self._lead(material, now)
        if material is None:
            return seconds_until(None, now)
        self._serve(material, now)
        if stepped:
            return MIN_SLEEP_SECONDS
        return self._next_tick(material)

    def _next_tick(self, material: ca_material.Material) -> float:
        """The next moment a decision may change (the Secret's material; the served
        certificate due, late, expired; the leader's next write after a backoff), and
        at least every RETRY_SECONDS while the served certificate is due."""
        now, published = self.clock(), self.publisher.published
        served, renew_before = self.served.current, self.settings.renew_before
        moments = [
            authority.next_decision(material, settings=self.settings, published=published),
            authority.renew_at(served, renew_before),
            authority.renew_at(served, renew_before / 2),
            served.not_valid_after_utc,
        ]
        ahead = [moment for moment in moments if moment is not None and moment > now]
        pause = seconds_until(min(ahead), now) if ahead else RETRY_SECONDS
        if now >= authority.renew_at(served, renew_before):  # poll: an outage may begin
            pause = min(pause, RETRY_SECONDS)
        if self._write_after > time.monotonic():
            pause = min(pause, max(MIN_SLEEP_SECONDS, self._write_after - time.monotonic()))
        return pause

    def _lead(
        self, material: ca_material.Material | None, now: datetime.datetime
    ) -> tuple[ca_material.Material | None, bool]:
        """One issuer step on the stored material, then publish its bundle."""
        chosen, new = authority.step(
            material, now=now, settings=self.settings, published=self.publisher.published
        )
        if chosen is not authority.Step.KEEP:
            try:
                self.view.save(new)
            except kubeapi.ApiError as err:
                return self._not_written(err, material), False
            self._backoff.succeeded()
            note_step(chosen, new, self.metrics)
            material = new
        assert material is not None  # KEEP is only decided on existing material
        self.publisher.ensure(material.bundle_pem)
        return material, chosen is not authority.Step.KEEP

    def _not_written(
        self, err: kubeapi.ApiError, material: ca_material.Material | None
    ) -> ca_material.Material | None:
        """A write refused or unanswered: read the Secret again (a lost race), or, with
        the API server unavailable, keep what we have and try again after a backoff."""
        level = reachability.level_for(err, logging.INFO)
        log.log(level, "the certificate Secret was not written (%s)", err)
        if err.unavailable:
            self._write_after = time.monotonic() + self._backoff.failed(err.retry_after)
            return material
        try:
            self.view.refresh()
        except kubeapi.ApiError as again:
            self._write_after = time.monotonic() + self._backoff.failed(again.retry_after)
            log.log(reachability.level_for(again, logging.INFO), "nor read: %s", again)
            return material
        return self._material()

    def _serve(self, material: ca_material.Material, now: datetime.datetime) -> None:
        current, published = self.served.current, self.publisher.published
        leaf = material.leaf
        # A certificate issued here gives way only to a Secret's that is not due.
        stay = self._local and published.trusts(current, now)
        if not (stay and outage.due(leaf.cert, now, self.settings)):
            chosen = authority.choose(current, leaf.cert, published, now)
            changed = chosen is not None and chosen != current
            if changed and self.served.serve(leaf.cert_pem, leaf.key_pem, source="secret"):
                self._local = False
        self._renew_here(material, now)

    def _renew_here(self, material: ca_material.Material, now: datetime.datetime) -> None:
        if not outage.renew_here(
            self.served.current,
            material,
            published=self.publisher.published,
            now=now,
            settings=self.settings,
            api_away=self.api_away(),
        ):
            return
        leaf = outage.issue(material, now=now, settings=self.settings)
        if self.served.serve(leaf.cert_pem, leaf.key_pem, source="local"):
            self._local = True
            log.warning(
                "serving certificate renewed here from the published CA: the Secret has"
                " no fresh one (the API server is unavailable or nobody could write it)",
                extra={"serial": issuing.serial_hex(leaf.cert)},
            )


def first_certificate(
    cluster: kubeapi.Cluster, *, namespace: str, name: str, settings: authority.Settings
) -> issuing.Issued:
    """What a replica serves when it starts: the Secret's certificate if there is a
    valid one, else a throwaway one (never stored) until the loop has something better."""
    now = issuing.now_utc()
    try:
        material = material_of(cluster.get_secret(namespace, name))
    except Exception as err:  # no API yet, or an unusable Secret: the loop will retry
        log.info("no certificate from the Secret at start: %s", err)
        material = None
    if material is not None and issuing.valid_at(material.leaf.cert, now):
        return material.leaf
    return authority.advance(None, authority.Step.START, now=now, settings=settings).leaf
