"""Istio's own configuration (mesh config, injector values, injector config) read into our
`Config`.

A stand-in with the agreed interface: it reads only the mesh config's `trustDomain`, and
refuses a mesh config or values that is not a YAML/JSON mapping. The full reader replaces
it; callers depend only on the interface below.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from injector.core.config import Config, ConfigError

__all__ = ["IstioConfigError", "Settings", "Sources", "load"]


@dataclass(frozen=True)
class Sources:
    """Istio's three inputs as text, each None when not given, and where each came from
    (used in messages, e.g. "--meshConfigFile mesh.yaml" or "ConfigMap istio-system/istio,
    key mesh")."""

    mesh: str | None = None
    values: str | None = None
    inject_config: str | None = None
    mesh_origin: str = "mesh config"
    values_origin: str = "values"
    inject_config_origin: str = "injector config"


@dataclass(frozen=True)
class Settings:
    """`config` is the base configuration with Istio's settings applied; `warnings` says
    what was read but is not modelled, one readable sentence each."""

    config: Config
    warnings: tuple[str, ...]


class IstioConfigError(ConfigError):
    """One of Istio's inputs is unusable; the message names its origin and the key."""


def _mapping(text: str | None, origin: str) -> Mapping[str, Any]:
    """The YAML (or JSON) document `text` as a mapping; empty or absent is an empty one."""
    if text is None:
        return {}
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise IstioConfigError(f"{origin}: not valid YAML or JSON{where}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise IstioConfigError(f"{origin}: must be a mapping, got {type(data).__name__}")
    return data


def load(base: Config, sources: Sources) -> Settings:
    """`base` with what `sources` give applied (stand-in: the mesh's trustDomain)."""
    mesh = _mapping(sources.mesh, sources.mesh_origin)
    _mapping(sources.values, sources.values_origin)
    config = base
    trust_domain = mesh.get("trustDomain")
    if trust_domain is not None:
        if not isinstance(trust_domain, str) or not trust_domain:
            raise IstioConfigError(f"{sources.mesh_origin}: trustDomain must be a non-empty string")
        config = dataclasses.replace(
            base, mesh=dataclasses.replace(base.mesh, trustDomain=trust_domain)
        )
    return Settings(config=config, warnings=())
