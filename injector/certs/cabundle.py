"""Publishing our CA bundle in our MutatingWebhookConfiguration, and watching it.

What is published is what kube-apiserver trusts: the `caBundle` (base64 of the PEM
bundle) of each of *our* webhook entries. Every replica watches the object to know which
CAs are trusted now (`published`), for its readiness and for which certificate it may
serve. Only the leader writes: it server-side applies our entries' caBundle, and only
that field, as field manager "sidecar-injector", whenever the bundle changes and again
whenever the watch shows our entries' caBundle differs from it (a re-applied manifest, a
Helm upgrade, a GitOps sync). Everything else in the object is left to whoever set it:
an operator's emergency `failurePolicy: Ignore` survives the next rotation. Only when the
object does not exist (the developer registration) is the whole rendering applied.
Followers never write, because a follower may hold an older bundle than the leader for
a moment, and two forced applies of different bundles would fight (the vault-helm#580
failure). Entries of other webhooks are never rendered, so never touched.

`render` returns the whole object for a PEM bundle: `injector.registration` renders it
from the manifest (or for a dev URL).
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from cryptography import x509

from injector.certs import authority, issuing
from injector.certs.loops import Clock
from injector.cluster import kubeapi, reachability, registration, watch
from injector.cluster.registration import Render
from injector.telemetry.metrics import Metrics

log = logging.getLogger("injector.cabundle")


def _entries(configuration: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    hooks = (configuration or {}).get("webhooks") or []
    return {h["name"]: h for h in hooks if isinstance(h, dict) and isinstance(h.get("name"), str)}


def _ca_bundle(entry: dict[str, Any] | None) -> str:
    value = ((entry or {}).get("clientConfig") or {}).get("caBundle")
    return value if isinstance(value, str) else ""


def drifted(observed: dict[str, Any] | None, desired: dict[str, Any]) -> bool:
    """Some entry of ours lacks, or differs from, the caBundle we want it to have."""
    present = _entries(observed)
    return any(
        _ca_bundle(present.get(name)) != _ca_bundle(entry)
        for name, entry in _entries(desired).items()
    )


def _decoded(encoded: str) -> list[x509.Certificate]:
    try:
        return issuing.load_certificates(base64.b64decode(encoded, validate=True))
    except (ValueError, binascii.Error):
        return []


def trusted_cas(observed: dict[str, Any] | None, names: Sequence[str]) -> list[x509.Certificate]:
    """The CAs that every one of our entries trusts (a certificate must satisfy each)."""
    present = _entries(observed)
    if not names or any(name not in present for name in names):
        return []
    bundles = [_decoded(_ca_bundle(present[name])) for name in names]
    common = set.intersection(*(set(map(issuing.fingerprint, b)) for b in bundles))
    return [ca for ca in bundles[0] if issuing.fingerprint(ca) in common]


class Publisher:
    """Keeps our entries' caBundle equal to the bundle, and reports what is trusted."""

    def __init__(
        self, cluster: kubeapi.Cluster, render: Render, metrics: Metrics, *, clock: Clock
    ) -> None:
        example = render(b"")
        self.name = str(example["metadata"]["name"])
        self.webhooks = list(_entries(example))
        self.cluster, self.render, self.metrics, self.clock = cluster, render, metrics, clock
        self.published = authority.Published()
        self.on_change: Callable[[], None] = lambda: None
        self._observed: dict[str, Any] | None = None
        self._synced = False
        self._applied: bytes | None = None  # the bundle our last successful apply carried
        self._lock = threading.Lock()

    def _observe(self, configuration: dict[str, Any] | None) -> None:
        with self._lock:
            self._observed = configuration
            cas = trusted_cas(configuration, self.webhooks)
            self.published = self.published.observe(cas, self.clock())
        self.on_change()

    def _on_sync(self, items: list[dict[str, Any]]) -> None:
        self._synced = True
        self._observe(items[0] if items else None)

    def _on_event(self, kind: str, configuration: dict[str, Any]) -> None:
        self._observe(None if kind == "DELETED" else configuration)

    def follow(self, stop: threading.Event) -> None:
        """Watch our configuration until `stop` (run on a thread of its own)."""
        watch.follow(
            what="mutatingwebhookconfiguration",
            list_objects=lambda: self.cluster.list_webhook_config(self.name),
            watch=lambda version: self.cluster.watch_webhook_config(self.name, version),
            on_sync=self._on_sync,
            on_event=self._on_event,
            stop=stop,
        )

    def ensure(self, bundle_pem: bytes) -> bool:
        """Apply the bundle unless the watched object already carries it (leader only).
        Returns True when our entries carry it afterwards, as far as we know."""
        desired = self.render(bundle_pem)
        if self._synced and not drifted(self._observed, desired):
            self._applied = bundle_pem
            return True
        repair = self._synced and self._applied == bundle_pem
        try:
            result = self._apply(desired)
        except Exception as err:  # retried on the next tick
            self.metrics.cabundle_apply_failures.inc()
            level = reachability.level_for(err)
            log.log(level, "caBundle not published: %s", err, extra={"configuration": self.name})
            return False
        self._applied = bundle_pem
        if repair:
            self.metrics.cabundle_repairs.inc()
            log.warning("caBundle drift repaired", extra={"configuration": self.name})
        else:
            log.info("caBundle published", extra={"configuration": self.name})
        self._observe(result)
        return True

    def _apply(self, desired: dict[str, Any]) -> dict[str, Any]:
        if self._synced and self._observed is None:
            # No object yet (a developer registration): create it whole, as the
            # registration's own field manager, never the caBundle publisher's.
            manager = registration.REGISTRATION_MANAGER
            return self.cluster.apply_webhook_config(desired, field_manager=manager)
        return self.cluster.apply_webhook_config(registration.ca_bundle_only(desired))
