"""Istio's ConfigMaps read once (for `plan`, which judges with what the server follows).

A missing ConfigMap is not an error: its settings are then the injector's own, as the
server's would be, and the caller is told so. A refused read is an error that names the
ConfigMap and the right needed; an unreachable API server is the transport's ApiError.
"""

from __future__ import annotations

from injector.cluster import kubeapi
from injector.istio_config import Sources, configmaps


class IstioConfigMapsError(Exception):
    """A ConfigMap exists but cannot be read."""


def read(cluster: kubeapi.Cluster, namespace: str, revision: str) -> tuple[Sources, list[str]]:
    """Istio's inputs from `namespace` for istiod's `revision`, and one note per
    ConfigMap that is not there."""
    found, notes = [], []
    for name in configmaps.names(revision):
        try:
            configmap = cluster.get_configmap(namespace, name)
        except kubeapi.ApiError as err:
            if err.status == 0:
                raise
            raise IstioConfigMapsError(
                f"cannot read ConfigMap {namespace}/{name}: {err}"
                f" (needs get on configmaps in {namespace})"
            ) from None
        if configmap is None:
            notes.append(f"no ConfigMap {namespace}/{name}: its settings are the injector's own")
        found.append((configmap or {}).get("data"))
    return configmaps.sources(namespace, revision, *found), notes
