"""The namespace cache: what admission knows about namespaces, without asking the API.

A background thread keeps a list+watch view of every Namespace (`watch.follow`) and
publishes it as an immutable dict that is swapped whole: the single writer builds a new
dict for each change, and readers on the admission path take the current one without a
lock. `lookup` answers from memory only.

Only what the policy reads is kept: the labels, and the annotations Pods may inherit
(`names.INHERITABLE_ANNOTATIONS`); other annotations such as kubectl's
last-applied-configuration can be large and are dropped.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from injector.cluster import kubeapi, watch
from injector.core import names, policy
from injector.telemetry.metrics import Metrics

View = Mapping[str, policy.Namespace]


def from_object(obj: Mapping[str, Any]) -> policy.Namespace:
    """The policy's view of one Namespace object."""
    metadata = obj.get("metadata") or {}
    labels = metadata.get("labels") or {}
    annotations = metadata.get("annotations") or {}
    kept = {k: annotations[k] for k in names.INHERITABLE_ANNOTATIONS if k in annotations}
    return policy.Namespace(
        name=str(metadata.get("name", "")),
        labels=MappingProxyType(dict(labels)),
        annotations=MappingProxyType(kept),
    )


class NamespaceCache:
    """Namespaces by name, from a watch. `lookup` is the handler's NamespaceLookup."""

    def __init__(self, cluster: kubeapi.Cluster, *, metrics: Metrics | None = None) -> None:
        self.cluster = cluster
        self.metrics = metrics
        self._view: View | None = None
        self._synced = threading.Event()

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    def wait_synced(self, timeout: float) -> bool:
        return self._synced.wait(timeout)

    def lookup(self, name: str) -> policy.Namespace | None:
        """The namespace as last seen, or None (unknown: the webhook's namespaceSelector
        is trusted) before the first full list, and for a namespace the watch has not
        shown yet (one created a moment ago with the injection label, say)."""
        view = self._view
        return None if view is None else view.get(name)

    def run(self, stop: threading.Event) -> None:
        """List and watch until `stop` is set (the loop itself never raises)."""
        watch.follow(
            what="namespaces",
            list_objects=self.cluster.list_namespaces,
            watch=self.cluster.watch_namespaces,
            on_sync=self._replace,
            on_event=self._apply,
            stop=stop,
        )

    def _publish(self, view: dict[str, policy.Namespace]) -> None:
        self._view = MappingProxyType(view)
        if not self._synced.is_set():
            self._synced.set()
            if self.metrics is not None:
                self.metrics.namespace_cache_synced.set(1)

    def _replace(self, items: list[dict[str, Any]]) -> None:
        namespaces = (from_object(obj) for obj in items)
        self._publish({ns.name: ns for ns in namespaces if ns.name})

    def _apply(self, kind: str, obj: dict[str, Any]) -> None:
        namespace = from_object(obj)
        if not namespace.name:
            return
        view = dict(self._view or {})
        if kind == "DELETED":
            view.pop(namespace.name, None)
        else:
            view[namespace.name] = namespace
        self._publish(view)
