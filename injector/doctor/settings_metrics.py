"""What our replicas' /metrics say about the settings they use, as doctor reads it.

Two series, by source (`file`, `istio-mesh`, `istio-injector`):
`sidecar_injector_settings_info{source, version}` is 1 for the version in use (a
ConfigMap's resourceVersion), and `sidecar_injector_settings_healthy{source}` is 0 while a
broken value is ignored and the last good settings are kept. Pure: the Prometheus text
exposition in, per source the versions in use and whether it is healthy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

INFO = "sidecar_injector_settings_info"
HEALTHY = "sidecar_injector_settings_healthy"
_SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}\s+(\S+)", re.ASCII)
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', re.ASCII)


@dataclass
class Source:
    versions: set[str] = field(default_factory=set)  # info == 1
    healthy: bool | None = None  # None: not reported


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def read(text: str) -> dict[str, Source]:
    """Per source, what the exposition reports; sources it does not mention are absent."""
    sources: dict[str, Source] = {}
    for line in text.splitlines():
        sample = _SAMPLE.fullmatch(line.strip())
        if sample is None or sample[1] not in (INFO, HEALTHY):
            continue
        labels = dict(_LABEL.findall(sample[2]))
        value = _number(sample[3])
        source = labels.get("source")
        if source is None or value is None:
            continue
        entry = sources.setdefault(source, Source())
        if sample[1] == INFO and value == 1 and "version" in labels:
            entry.versions.add(labels["version"])
        elif sample[1] == HEALTHY:
            entry.healthy = value == 1
    return sources
