"""Prometheus metrics. Labels come from closed sets (results and reason codes), never from
a Pod's name, a namespace or an annotation value, so their number stays bounded."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

# Millisecond-scale buckets: an injection should take about a millisecond, and
# kube-apiserver's own webhook histogram starts at 5 ms.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """The injector's metrics, in a registry of their own (one per app instance)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
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

    def answered(self, result: str, reasons: tuple[str, ...], seconds: float) -> None:
        self.requests.labels(result, reasons[0] if reasons else "none").inc()
        self.duration.observe(seconds)
