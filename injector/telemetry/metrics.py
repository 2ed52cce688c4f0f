"""Prometheus metrics. Labels come from closed sets (results and reason codes), never from
a Pod's name, a namespace or an annotation value, so their number stays bounded."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# What became of an Event the webhook wanted to send.
EVENT_OUTCOMES = ("sent", "dropped", "failed")
# Closed label sets of the certificate metrics.
ROTATION_KINDS = ("serving", "ca")
RELOAD_SOURCES = ("files", "directory", "secret", "local")
# Where the server's settings come from: our --config file, Istio's ConfigMap `istio`
# (key mesh) and `istio-sidecar-injector[-<revision>]` (keys values and config).
SETTINGS_SOURCES = ("file", "istio-mesh", "istio-injector")
# Millisecond-scale buckets: an injection should take about a millisecond, and
# kube-apiserver's own webhook histogram starts at 5 ms.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """The injector's metrics, in a registry of their own (one per app instance)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._answered: dict[tuple[str, str], Any] = {}
        self.requests = Counter(
            "sidecar_injector_admission_requests",
            "Admission calls answered, by result and reason code.",
            ["result", "reason"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "sidecar_injector_admission_duration_seconds",
            "Time to answer an admission call, from body read to answer written.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.bad_calls = Counter(
            "sidecar_injector_bad_calls",
            "Calls refused before any decision, by HTTP status.",
            ["status"],
            registry=self.registry,
        )
        self.events = Counter(
            "sidecar_injector_events",
            "Events about Pods' owners, by outcome: sent, dropped (the queue was full, or"
            " the API server was unavailable),"
            " limited (over the namespace's budget) or failed (the API refused it or could"
            " not be reached).",
            ["outcome"],
            registry=self.registry,
        )
        self.namespace_cache_synced = Gauge(
            "sidecar_injector_namespace_cache_synced",
            "1 once the namespace cache holds a full list; before that the webhook's"
            " namespaceSelector is trusted.",
            registry=self.registry,
        )
        self.native_sidecars = Gauge(
            "sidecar_injector_native_sidecars_supported",
            "1 when the API server runs native sidecars (>= 1.29), 0 when it does not,"
            " -1 while unknown.",
            registry=self.registry,
        )
        self.native_sidecars.set(-1)
        for outcome in EVENT_OUTCOMES:
            self.events.labels(outcome)

        self._certificates()
        self._settings()
        self._api()

    def _certificates(self) -> None:
        """The serving certificate's life: what is served, rotations, refusals, caBundle."""
        self.certificate_expiry = Gauge(
            "sidecar_injector_serving_certificate_expiry_timestamp_seconds",
            "When the certificate being served expires (Unix time, its not-after).",
            registry=self.registry,
        )
        self.certificate_rotations = Counter(
            "sidecar_injector_certificate_rotations",
            "Certificates put into use: kind=serving, a new serving certificate loaded into "
            "the running server; kind=ca, a new CA issued by this replica.",
            ["kind"],
            registry=self.registry,
        )
        self.certificate_reload_failures = Counter(
            "sidecar_injector_certificate_reload_failures",
            "Certificate material refused (unreadable, mismatched, expired), by source: "
            "files, directory or secret. The certificate served before keeps serving.",
            ["source"],
            registry=self.registry,
        )
        self.cabundle_repairs = Counter(
            "sidecar_injector_cabundle_repairs",
            "Times our webhooks' caBundle was found changed by someone else and re-applied.",
            registry=self.registry,
        )
        self.cabundle_apply_failures = Counter(
            "sidecar_injector_cabundle_apply_failures",
            "Failed server-side applies of our webhooks' caBundle (retried).",
            registry=self.registry,
        )
        self.certificate_leader = Gauge(
            "sidecar_injector_certificate_leader",
            "1 while this replica holds the Lease and issues certificates, else 0.",
            registry=self.registry,
        )
        for kind in ROTATION_KINDS:
            self.certificate_rotations.labels(kind)
        for source in RELOAD_SOURCES:
            self.certificate_reload_failures.labels(source)

    def _settings(self) -> None:
        """The settings in use and where they come from: our file, Istio's ConfigMaps.
        `source` is one of SETTINGS_SOURCES; the names are shared with `doctor`."""
        self.settings_healthy = Gauge(
            "sidecar_injector_settings_healthy",
            "1 while the last read of a settings source succeeded; 0 while a broken or"
            " missing value is ignored and the last good settings are kept.",
            ["source"],
            registry=self.registry,
        )
        self.settings_errors = Counter(
            "sidecar_injector_settings_errors",
            "Reads of a settings source rejected (each bad version once).",
            ["source"],
            registry=self.registry,
        )
        self.settings_info = Gauge(
            "sidecar_injector_settings_info",
            "1 for the version of each source in use: a ConfigMap's resourceVersion, or"
            " for the file the first 12 hex digits of its sha256.",
            ["source", "version"],
            registry=self.registry,
        )

    def _api(self) -> None:
        """Whether the API server answers (injector.cluster.reachability)."""
        self.api_reachable = Gauge(
            "sidecar_injector_api_reachable",
            "0 from a call to the API server that got no answer (no connection, a timeout,"
            " 429 or 5xx) until one is answered again, else 1.",
            registry=self.registry,
        )
        self.api_reachable.set(1)
        self.api_failures = Counter(
            "sidecar_injector_api_failures",
            "Calls to the API server that failed (an error or no answer; not 404 or 409),"
            ' by operation, e.g. "get leases", "watch secrets", "create events".',
            ["operation"],
            registry=self.registry,
        )

    def answered(self, result: str, reasons: tuple[str, ...], seconds: float) -> None:
        key = (result, reasons[0] if reasons else "none")
        counter = self._answered.get(key)
        if counter is None:  # label sets are closed, so this dict stays small
            counter = self._answered[key] = self.requests.labels(*key)
        counter.inc()
        self.duration.observe(seconds)
