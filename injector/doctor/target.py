"""What doctor checks: the cluster, our settings, and what is read once for every check.

`Target` is given (the cluster, the injector's configuration, the names); `Snapshot` is
read once at the start (the server's version, every MutatingWebhookConfiguration, every
namespace with its labels) and shared by the checks that need it.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from injector.cluster import kubeapi, registration
from injector.core.config import Config

# Namespaces carry their own name as a label (kube-apiserver adds it since 1.21);
# webhooks' namespaceSelectors use it to exclude namespaces.
NAME_LABEL = "kubernetes.io/metadata.name"
TLS_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Target:
    cluster: kubeapi.Cluster
    config: Config
    now: datetime.datetime
    webhook_name: str = registration.DEFAULT_NAME
    istio_namespace: str = "istio-system"
    istio_revision: str = ""  # istiod's revision whose ConfigMaps we follow ("": default)
    tls_timeout: float = TLS_TIMEOUT_SECONDS

    @property
    def namespace(self) -> str:
        return self.config.injectorNamespace

    @property
    def revisions(self) -> tuple[str, ...]:
        """The revision we serve and its tags (what istio.io/rev may say for us)."""
        return tuple(dict.fromkeys([self.config.revision, *self.config.tags]))


@dataclass(frozen=True)
class Snapshot:
    version: tuple[int, int]
    configurations: list[dict[str, Any]]
    namespaces: Mapping[str, Mapping[str, str]]  # name -> labels (with NAME_LABEL)

    def configuration(self, name: str) -> dict[str, Any] | None:
        for item in self.configurations:
            if (item.get("metadata") or {}).get("name") == name:
                return item
        return None


def take(cluster: kubeapi.Cluster) -> Snapshot:
    """Read what several checks share; ApiError when the cluster cannot be read."""
    version = cluster.version()
    configurations = cluster.list_webhook_configs()
    items, _version = cluster.list_namespaces()
    namespaces = {}
    for item in items:
        name = str((item.get("metadata") or {}).get("name", ""))
        labels = (item.get("metadata") or {}).get("labels") or {}
        namespaces[name] = {str(k): str(v) for k, v in labels.items()} | {NAME_LABEL: name}
    return Snapshot(version, configurations, namespaces)
