"""Per-Pod ProxyConfig: the `proxy.istio.io/config` annotation (YAML or JSON).

The annotation is validated strictly: an unknown field or a wrong type refuses the Pod
with a message naming the annotation (Istio ignores unknown fields; a typo there silently
does nothing, which is worse). The accepted fields are merged over the mesh defaults and
written, without the fields equal to their defaults, into the proxy env `PROXY_CONFIG` as
Istio 1.20.8 writes it: compact JSON in ProxyConfig's proto field order, durations as
seconds (`"23s"`), followed by a newline. `proxyMetadata` entries also become env of the
proxy and of the init container, sorted by name. `interceptionMode` is a mesh default
only (the configuration's mesh.proxyConfig): per Pod it is the annotation
`sidecar.istio.io/interceptionMode`, so the annotation refuses it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import yaml

from injector.core import grammar, names


class ProxyConfigError(ValueError):
    """The annotation cannot be used; the message says which field and why."""


_DURATION = re.compile(r"(\d{1,12})(?:\.(\d{1,9}))?s")


def _duration(value: Any) -> str:
    """A protobuf JSON duration, normalised as protobuf writes it ("1.500s", "23s")."""
    found = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if not found:
        raise ProxyConfigError("must be a duration in seconds, like 5s or 1.5s")
    nanos = int((found[2] or "").ljust(9, "0"))
    if nanos == 0:
        return f"{int(found[1])}s"
    digits = 3 if nanos % 1_000_000 == 0 else 6 if nanos % 1000 == 0 else 9
    return f"{int(found[1])}.{str(nanos).zfill(9)[:digits]}s"


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ProxyConfigError("must be true or false")
    return value


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise ProxyConfigError("must be a whole number, 0 or more")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ProxyConfigError("must be a string")
    return value


def _metadata(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ProxyConfigError("must map names to string values")
    return dict(sorted(value.items()))  # protobuf JSON writes a map sorted by key


def _mode(value: Any) -> str:
    # NONE: no redirect at all (no istio-init), as in Istio 1.20.8.
    if value not in ("REDIRECT", "TPROXY", "NONE"):
        raise ProxyConfigError("must be REDIRECT, TPROXY or NONE")
    return str(value)


def _tracing(value: Any) -> dict[str, Any]:
    # One tracer's settings (zipkin, lightstep, datadog, ...), written as given; the
    # agent reads them. `{}` turns tracing off.
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, dict) for k, v in value.items()
    ):
        raise ProxyConfigError("must map a tracer's name to its settings")
    return dict(value)


# Istio's default tracing (zipkin through the mesh's own collector), left out.
DEFAULT_TRACING = {"zipkin": {"address": "zipkin.istio-system:9411"}}

_MATCHER_FIELDS = ("inclusionPrefixes", "inclusionSuffixes", "inclusionRegexps")


def _matcher(value: Any) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        raise ProxyConfigError("must be an object")
    unknown = sorted(set(value) - set(_MATCHER_FIELDS))
    if unknown:
        raise ProxyConfigError(f"has an unknown field {unknown[0]!r}")
    found = {}
    for key in _MATCHER_FIELDS:
        items = value.get(key) or []
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ProxyConfigError(f"{key} must be a list of strings")
        if items:
            found[key] = list(items)
    return found


# The fields accepted, in ProxyConfig's proto declaration order (the order of the JSON),
# each with its parser and the mesh default that is left out of PROXY_CONFIG.
_FIELDS: dict[str, tuple[Callable[[Any], Any], Any]] = {
    "drainDuration": (_duration, "45s"),
    "discoveryAddress": (_text, "istiod.istio-system.svc:15012"),
    "concurrency": (_count, None),
    "interceptionMode": (_mode, "REDIRECT"),
    "tracing": (_tracing, DEFAULT_TRACING),
    "proxyMetadata": (_metadata, {}),
    "terminationDrainDuration": (_duration, "5s"),
    "proxyStatsMatcher": (_matcher, None),
    "holdApplicationUntilProxyStarts": (_bool, None),
}
# The field names accepted (the mesh's defaultConfig is read against them).
ACCEPTED = frozenset(_FIELDS)


@dataclass(frozen=True)
class ProxyConfig:
    """The effective per-Pod ProxyConfig, as what the injection needs from it."""

    env_value: str
    hold: bool
    metadata: tuple[tuple[str, str], ...]

    def metadata_env(self) -> list[dict[str, str]]:
        return [{"name": k, "value": v} for k, v in self.metadata]


DEFAULT = ProxyConfig("{}\n", False, ())


def _parse(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        raise ProxyConfigError("is neither YAML nor JSON") from None


def fields(data: Any) -> dict[str, Any]:
    """The accepted fields of a parsed ProxyConfig, or raise ProxyConfigError."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ProxyConfigError("must be a ProxyConfig object")
    found = {}
    for key, value in data.items():
        if key not in _FIELDS:
            raise ProxyConfigError(f"unknown or unsupported field {grammar.printable(str(key))}")
        try:
            found[key] = _FIELDS[key][0](value)
        except ProxyConfigError as err:
            raise ProxyConfigError(f"field {key} {err}") from None
    return found


def mesh_defaults(configured: Mapping[str, Any], *, discovery_address: str) -> str:
    """The mesh's default ProxyConfig as JSON (the key ProxyConfigs are remembered by):
    the configured fields over the revision's control plane address, which Istio 1.20.8's
    mesh config of a revision carries as defaultConfig.discoveryAddress (it is left out
    of PROXY_CONFIG when it is the default revision's)."""
    merged = {"discoveryAddress": discovery_address, **configured}
    return orjson.dumps(merged, option=orjson.OPT_SORT_KEYS).decode()


@functools.lru_cache(maxsize=256)
def effective(text: str | None, mesh: str = "{}") -> ProxyConfig:
    """The ProxyConfig for an annotation value (None: absent) over the mesh's defaults
    (`mesh`, their JSON), or raise ProxyConfigError. Fields replace the mesh's, except
    proxyMetadata, merged per key, as Istio merges them."""
    merged = fields(orjson.loads(mesh))
    own = {} if text is None else fields(_parse(text))
    if "interceptionMode" in own:
        # The redirect is rendered from the mesh default and the per-Pod annotation;
        # one per-Pod switch keeps istio-init's -m and PROXY_CONFIG from disagreeing.
        raise ProxyConfigError(f"field interceptionMode: use annotation {names.INTERCEPTION_MODE}")
    metadata = {**merged.get("proxyMetadata", {}), **own.get("proxyMetadata", {})}
    merged.update(own)
    if metadata:
        merged["proxyMetadata"] = dict(sorted(metadata.items()))
    shown = {
        key: merged[key]
        for key, (_parse_field, default) in _FIELDS.items()
        if key in merged and merged[key] != default
    }
    value = orjson.dumps(shown).decode() + "\n"
    hold = bool(merged.get("holdApplicationUntilProxyStarts"))
    return ProxyConfig(value, hold, tuple(sorted(metadata.items())))


def problem(annotations: Mapping[str, str], mesh: str = "{}") -> tuple[ProxyConfig, str | None]:
    """The Pod's ProxyConfig, or the mesh's and a problem naming the annotation."""
    text = annotations.get(names.PROXY_CONFIG)
    try:
        return effective(text, mesh), None
    except ProxyConfigError as err:
        return effective(None, mesh), f"annotation {names.PROXY_CONFIG}: {err}"
