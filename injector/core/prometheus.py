"""Prometheus merge (Istio 1.20.8 `applyPrometheusMerge`).

Under STRICT mutual TLS, Prometheus cannot scrape the app's own port in plaintext. The
agent serves the app's metrics merged with Envoy's on its status port, so the Pod's
`prometheus.io/*` annotations move into the proxy env `ISTIO_PROMETHEUS_ANNOTATIONS`
(always the three keys, in Istio's order) and are re-pointed at the agent. Keys are
compared as Prometheus sanitises label names, so `prometheus.io/scrape`,
`prometheus.io.scrape` and `prometheus_io_scrape` are one key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from injector.core import grammar, names

# The agent's merged endpoint. Istio uses the mesh's status port here, never the
# `status.sidecar.istio.io/port` annotation.
MERGED_PORT = "15020"
MERGED_PATH = "/stats/prometheus"

_UNSAFE = re.compile(r"[^a-zA-Z0-9_]")
_SCRAPE, _PORT, _PATH = "prometheus_io_scrape", "prometheus_io_port", "prometheus_io_path"


def _sanitized(key: str) -> str:
    return _UNSAFE.sub("_", key)


def _scrape(annotations: Mapping[str, str]) -> bool:
    """The first parsable scrape annotation decides; unparsable ones are ignored."""
    for key, value in annotations.items():
        if _sanitized(key) == _SCRAPE:
            try:
                return grammar.parse_bool(value)
            except grammar.GrammarError:
                continue
    return True


def merge(annotations: dict[str, str], *, enabled: bool) -> dict[str, Any] | None:
    """Re-point `annotations` (changed in place) and return the proxy env entry for the
    app's own settings, if any. Returns None and changes nothing when the merge is off."""
    merging = grammar.switch(annotations.get(names.PROMETHEUS_MERGE), enabled)
    if not (merging and _scrape(annotations)):
        return None
    found = {_SCRAPE: "", _PATH: "", _PORT: ""}
    for key, value in annotations.items():
        sanitized = _sanitized(key)
        if sanitized == _PORT and value == MERGED_PORT:
            return None  # already re-pointed: injected before
        if sanitized in found:
            found[sanitized] = value
    for key in [k for k in annotations if _sanitized(k) in found]:
        del annotations[key]
    annotations[names.PROMETHEUS_PORT] = MERGED_PORT
    annotations[names.PROMETHEUS_PATH] = MERGED_PATH
    annotations[names.PROMETHEUS_SCRAPE] = "true"
    if not any(found.values()):
        return None
    settings = {"scrape": found[_SCRAPE], "path": found[_PATH], "port": found[_PORT]}
    return {"name": names.ENV_PROMETHEUS, "value": orjson.dumps(settings).decode()}
