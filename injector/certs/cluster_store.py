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
from collections.abc import Callable
from typing import Any

from injector.certs import authority, ca_material, issuing
from injector.certs.cabundle import Publisher
from injector.certs.directory_store import note_step
from injector.certs.leader import Elector
from injector.certs.loops import MIN_SLEEP_SECONDS, Clock, Loop, seconds_until
from injector.certs.serving_cert import ServedCertificate
from injector.cluster import kubeapi, watch
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
    ) -> None:
        self.view, self.publisher, self.elector, self.served = view, publisher, elector, served
        self.settings, self.metrics, self.clock = settings, metrics, clock
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
        if self.elector.is_leader() and self.view.synced:
            material, stepped = self._lead(material, now)
        if material is None:
            return seconds_until(None, now)
        self._serve(material, now)
        if stepped:
            return MIN_SLEEP_SECONDS
        published = self.publisher.published
        wake = authority.next_decision(material, settings=self.settings, published=published)
        return seconds_until(wake, self.clock())

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
                log.info("the certificate Secret was not written (%s); reading it again", err)
                self.view.refresh()
                return self._material(), False
            note_step(chosen, new, self.metrics)
            material = new
        assert material is not None  # KEEP is only decided on existing material
        self.publisher.ensure(material.bundle_pem)
        return material, chosen is not authority.Step.KEEP

    def _serve(self, material: ca_material.Material, now: datetime.datetime) -> None:
        current = self.served.current
        leaf = material.leaf
        chosen = authority.choose(current, leaf.cert, self.publisher.published, now)
        if chosen is not None and chosen != current:
            self.served.serve(leaf.cert_pem, leaf.key_pem, source="secret")


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
