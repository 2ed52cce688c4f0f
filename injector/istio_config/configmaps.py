"""Where Istio keeps the three inputs in a cluster, and the inputs read from there.

Istio's chart names the ConfigMaps `istio` (key `mesh`) and `istio-sidecar-injector`
(keys `values` and `config`), both with `-<revision>` for a revision other than
`default`. The server follows them, `doctor` checks them and `plan` reads them once;
all three name them here. Pure: the ConfigMaps' data in, `Sources` out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from injector.istio_config import Sources

MESH_KEY, VALUES_KEY, CONFIG_KEY = "mesh", "values", "config"


def names(revision: str) -> tuple[str, str]:
    """(mesh config, injector) ConfigMap names for istiod's `revision` ("" or "default":
    the unrevisioned ones)."""
    suffix = "" if revision in ("", "default") else f"-{revision}"
    return f"istio{suffix}", f"istio-sidecar-injector{suffix}"


def _text(data: Any, key: str) -> str | None:
    value = data.get(key) if isinstance(data, Mapping) else None
    return value if isinstance(value, str) else None


def sources(
    namespace: str,
    revision: str,
    mesh: Any = None,
    injector: Any = None,
) -> Sources:
    """Istio's inputs from the two ConfigMaps' `data` (None: not there, or not read
    yet; a key that is not text counts as absent), each named by the ConfigMap and key
    it comes from."""
    mesh_name, injector_name = names(revision)
    return Sources(
        mesh=_text(mesh, MESH_KEY),
        values=_text(injector, VALUES_KEY),
        inject_config=_text(injector, CONFIG_KEY),
        mesh_origin=f"ConfigMap {namespace}/{mesh_name}, key {MESH_KEY}",
        values_origin=f"ConfigMap {namespace}/{injector_name}, key {VALUES_KEY}",
        inject_config_origin=f"ConfigMap {namespace}/{injector_name}, key {CONFIG_KEY}",
    )
