"""An in-process fake of the few kube-apiserver calls the injector makes.

It implements `injector.cluster.transport.Transport`: objects live in memory by collection path,
every request is recorded (method, path, query, content type, body) so tests can check
its exact shape, and watches stream the changes made after a resourceVersion.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from injector.cluster import kubeapi

JSON = "application/json"
# The plural names that end a collection path; anything else names one object.
RESOURCES = frozenset(
    {
        "namespaces",
        "secrets",
        "leases",
        "events",
        "pods",
        "mutatingwebhookconfigurations",
        "configmaps",
    }
    # What `plan` lists.
    | {"deployments", "statefulsets", "daemonsets", "replicasets", "jobs", "cronjobs"}
    | {"resourcequotas", "limitranges", "nodes"}
)


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    content_type: str
    body: Any


def _merge(old: Any, new: Any) -> Any:
    """Server-side apply, simplified: mappings merge, lists of named items merge by name."""
    if isinstance(old, dict) and isinstance(new, dict):
        merged = dict(old)
        for key, value in new.items():
            merged[key] = _merge(old.get(key), value)
        return merged
    if (
        isinstance(old, list)
        and isinstance(new, list)
        and all(isinstance(i, dict) and "name" in i for i in old + new)
    ):
        by_name = {item["name"]: item for item in old}
        for item in new:
            by_name[item["name"]] = _merge(by_name.get(item["name"]), item)
        return list(by_name.values())
    return copy.deepcopy(new)


class FakeApi:
    """Implements kubeapi.Transport over an in-memory store."""

    def __init__(self, *, version: tuple[str, str] = ("1", "30"), watch_seconds: float = 0.2):
        self.objects: dict[str, dict[str, dict[str, Any]]] = {}
        self.calls: list[Call] = []
        self.events: list[tuple[int, str, str, dict[str, Any]]] = []  # rv, collection, type, obj
        self.revision = 100
        self.version_info = {"major": version[0], "minor": version[1]}
        self.watch_seconds = watch_seconds
        self.failures: list[tuple[str, str, int]] = []
        self.changed = threading.Condition()
        # What a Pod answers through the API server's proxy (.../pods/https:POD:PORT/proxy/
        # PATH), by that path: text, or the status of an error (e.g. 403 without RBAC).
        self.proxied: dict[str, str | int] = {}

    # -- helpers for tests ----------------------------------------------------------

    def put(self, collection: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Store (or overwrite) an object directly, as another client would."""
        with self.changed:
            exists = obj["metadata"]["name"] in self.objects.get(collection, {})
            return self._store(collection, copy.deepcopy(obj), "MODIFIED" if exists else "ADDED")

    def delete(self, collection: str, name: str) -> None:
        """Remove an object as another client would; watchers see DELETED."""
        with self.changed:
            gone = self.objects[collection].pop(name)
            self.revision += 1
            gone["metadata"]["resourceVersion"] = str(self.revision)
            self.events.append((self.revision, collection, "DELETED", copy.deepcopy(gone)))
            self.changed.notify_all()

    def fail_next(self, method: str, path: str, status: int) -> None:
        self.failures.append((method, path, status))

    def calls_to(self, method: str, path_part: str = "") -> list[Call]:
        return [c for c in self.calls if c.method == method and path_part in c.path]

    # -- kubeapi.Transport -------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = JSON,
    ) -> Any:
        query = dict(query or {})
        self.calls.append(Call(method, path, query, content_type, copy.deepcopy(body)))
        for index, (fail_method, fail_path, status) in enumerate(self.failures):
            if fail_method == method and fail_path in path:
                del self.failures[index]
                raise kubeapi.ApiError(status, "Injected", f"injected failure {status}")
        if path == "/version":
            return dict(self.version_info)
        if "/proxy/" in path:
            return self._proxy(path)
        with self.changed:
            return copy.deepcopy(self._serve(method, path, query, body, content_type))

    def stream(self, path: str, *, query: Mapping[str, str]) -> Iterator[dict[str, Any]]:
        self.calls.append(Call("GET", path, dict(query), JSON, None))
        since = int(query.get("resourceVersion") or 0)
        name = query.get("fieldSelector", "").removeprefix("metadata.name=")
        with self.changed:
            self.changed.wait_for(lambda: self._pending(path, since, name), self.watch_seconds)
            pending = self._pending(path, since, name)
        for _rv, _collection, kind, obj in pending:
            yield {"type": kind, "object": copy.deepcopy(obj)}

    def _proxy(self, path: str) -> str:
        answer = self.proxied.get(path, 503)
        if isinstance(answer, int):
            raise kubeapi.ApiError(answer, "Proxy", f"proxy answered {answer}")
        return answer

    # -- the store --------------------------------------------------------------------

    def _pending(self, collection: str, since: int, name: str) -> list[Any]:
        return [
            e for e in self.events
            if e[0] > since and e[1] == collection
            and (not name or e[3]["metadata"]["name"] == name)
        ]  # fmt: skip

    def _store(self, collection: str, obj: dict[str, Any], kind: str) -> dict[str, Any]:
        self.revision += 1
        metadata = obj.setdefault("metadata", {})
        metadata["resourceVersion"] = str(self.revision)
        metadata.setdefault("uid", str(uuid.uuid4()))
        self.objects.setdefault(collection, {})[metadata["name"]] = obj
        self.events.append((self.revision, collection, kind, copy.deepcopy(obj)))
        self.changed.notify_all()
        return obj

    def _serve(
        self, method: str, path: str, query: dict[str, str], body: Any, content_type: str
    ) -> Any:
        store = self.objects
        collection, _, name = path.rpartition("/")
        if method == "GET" and name in RESOURCES:
            return self._list(path, query)
        if method == "GET":
            if name in store.get(collection, {}):
                return store[collection][name]
            raise kubeapi.ApiError(404, "NotFound", f"{name} not found")
        if method == "POST":
            obj = copy.deepcopy(body)
            if obj["metadata"]["name"] in store.get(path, {}):
                raise kubeapi.ApiError(409, "AlreadyExists", "already exists")
            return self._store(path, obj, "ADDED")
        if method == "PUT":
            current = store.get(collection, {}).get(name)
            if current is None:
                raise kubeapi.ApiError(404, "NotFound", f"{name} not found")
            expected = (body.get("metadata") or {}).get("resourceVersion")
            if expected and expected != current["metadata"]["resourceVersion"]:
                raise kubeapi.ApiError(409, "Conflict", "the object has been modified")
            return self._store(collection, copy.deepcopy(body), "MODIFIED")
        if method == "PATCH":
            assert content_type == kubeapi.APPLY_PATCH, content_type
            current = store.get(collection, {}).get(name)
            merged = _merge(current or {}, body)
            return self._store(collection, merged, "ADDED" if current is None else "MODIFIED")
        raise kubeapi.ApiError(405, "MethodNotAllowed", method)

    def _list(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        # A namespaced resource listed cluster-wide (GET /api/v1/pods) spans namespaces.
        group_version, _, resource = path.rpartition("/")
        spanned = [
            c for c in self.objects
            if c.startswith(f"{group_version}/namespaces/") and c.endswith(f"/{resource}")
        ]  # fmt: skip
        items = [obj for c in [path, *spanned] for obj in self.objects.get(c, {}).values()]
        name = query.get("fieldSelector", "").removeprefix("metadata.name=")
        if name:
            items = [i for i in items if i["metadata"]["name"] == name]
        return {"items": items, "metadata": {"resourceVersion": str(self.revision)}}
