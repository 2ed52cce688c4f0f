"""Istio's own configuration, read in Istio's own formats, as settings of this injector.

Three inputs, any subset: the mesh config (ConfigMap `istio`, key `mesh`), the chart's
values (ConfigMap `istio-sidecar-injector[-<revision>]`, key `values`) and the injector
config (same ConfigMap, key `config`). `load` applies each over the injector's own
`Config`; what a source does not give keeps the base's value. What Istio would do with a
setting and this injector does not model is returned as a warning, one sentence each,
never silently turned into a different Pod. Pure: text in, settings out.
"""

from __future__ import annotations

from dataclasses import dataclass

from injector.core.config import Config
from injector.istio_config import chart_values, injector_config, mesh_config
from injector.istio_config.document import IstioConfigError, parse

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
    """The effective configuration, and what was read but is not modelled."""

    config: Config
    warnings: tuple[str, ...]


def load(base: Config, sources: Sources) -> Settings:
    """`base` with Istio's settings from `sources` applied; IstioConfigError (naming the
    source and the key) when one cannot be used. The values go first (they name the
    revision, which the others' defaults follow), then the mesh config, then the
    injector config."""
    config, warnings = base, list[str]()
    steps = (
        (sources.values, sources.values_origin, chart_values.apply),
        (sources.mesh, sources.mesh_origin, mesh_config.apply),
        (sources.inject_config, sources.inject_config_origin, injector_config.apply),
    )
    for text, origin, apply in steps:
        if text is None:
            continue
        config, found = apply(config, parse(text, origin))
        warnings += found
    return Settings(config=config, warnings=tuple(warnings))
