"""Following one ConfigMap by name: its data as each version arrives, or that it is gone.

Istio keeps the injector's settings in ConfigMaps of its own namespace, which a Pod of
ours cannot mount; the server reads them through the API instead. `ConfigMapFollower`
lists the one ConfigMap (field selector `metadata.name=NAME`, which is what lets RBAC
restrict list and watch to that name), then watches it from the list's
resourceVersion, with `watch.follow`'s re-opening and growing pauses. Every request has
the transport's timeout. It reports through three callbacks and never raises:

- `on_data(data, version)`: the ConfigMap's `data` (key to text) at a resourceVersion;
- `on_missing()`: the list found no such ConfigMap, or a watch saw it deleted;
- `on_error(err)`: a list or watch failed (unreachable, forbidden); it is tried again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from injector.cluster import kubeapi, watch

Data = Mapping[str, str]


def data_of(obj: Mapping[str, Any]) -> dict[str, str]:
    """A ConfigMap's text data (`binaryData` is not text and is not read)."""
    data = obj.get("data") or {}
    return (
        {str(k): v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}
    )


def version_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))


@dataclass
class ConfigMapFollower:
    """One ConfigMap, `namespace`/`name`, followed for as long as `run` runs."""

    cluster: kubeapi.Cluster
    namespace: str
    name: str
    on_data: Callable[[Data, str], None]
    on_missing: Callable[[], None]
    on_error: Callable[[Exception], None]

    @property
    def where(self) -> str:
        return f"ConfigMap {self.namespace}/{self.name}"

    def read_once(self) -> None:
        """One list, reported like the loop reports it (used before serving)."""
        try:
            items, _version = self._list()
        except Exception as err:  # reported, never raised: the server starts anyway
            self.on_error(err)
            return
        self._synced(items)

    def run(self, stop: threading.Event) -> None:
        """List and watch until `stop` is set."""
        watch.follow(
            what=self.where,
            list_objects=self._list,
            watch=lambda version: self.cluster.watch_configmap(self.namespace, self.name, version),
            on_sync=self._synced,
            on_event=self._changed,
            stop=stop,
            on_error=self.on_error,
        )

    def _list(self) -> tuple[list[dict[str, Any]], str]:
        return self.cluster.list_configmap(self.namespace, self.name)

    def _synced(self, items: list[dict[str, Any]]) -> None:
        found = [obj for obj in items if (obj.get("metadata") or {}).get("name") == self.name]
        if found:
            self.on_data(data_of(found[0]), version_of(found[0]))
        else:
            self.on_missing()

    def _changed(self, kind: str, obj: dict[str, Any]) -> None:
        if kind == "DELETED":
            self.on_missing()
        else:
            self.on_data(data_of(obj), version_of(obj))
