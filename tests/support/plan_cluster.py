"""Objects for `plan`'s tests, stored in the fake API where the real one keeps them."""

from __future__ import annotations

from typing import Any

from support.fake_kube import FakeApi

GROUPS = {
    "deployments": "/apis/apps/v1",
    "statefulsets": "/apis/apps/v1",
    "daemonsets": "/apis/apps/v1",
    "replicasets": "/apis/apps/v1",
    "jobs": "/apis/batch/v1",
    "cronjobs": "/apis/batch/v1",
    "pods": "/api/v1",
    "resourcequotas": "/api/v1",
    "limitranges": "/api/v1",
}


def namespace(api: FakeApi, name: str, **labels: str) -> None:
    api.put("/api/v1/namespaces", {"metadata": {"name": name, "labels": dict(labels)}})


def put(api: FakeApi, resource: str, namespace_name: str, obj: dict[str, Any]) -> None:
    obj["metadata"].setdefault("namespace", namespace_name)
    api.put(f"{GROUPS[resource]}/namespaces/{namespace_name}/{resource}", obj)


def node(api: FakeApi, name: str, labels: dict[str, str] | None = None, **spec: Any) -> None:
    api.put("/api/v1/nodes", {"metadata": {"name": name, "labels": labels or {}}, "spec": spec})


def container(
    name: str = "app",
    *,
    requests: dict[str, str] | None = None,
    limits: dict[str, str] | None = None,
) -> dict[str, Any]:
    resources = {k: v for k, v in (("requests", requests), ("limits", limits)) if v}
    return {"name": name, "image": "registry.example/app:1", "resources": resources}


def template(
    *containers: dict[str, Any], labels: dict[str, str] | None = None, **spec: Any
) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": "app", **(labels or {})}},
        "spec": {"containers": list(containers) or [container()], **spec},
    }


def deployment(
    name: str, replicas: int | None = 1, pod: dict[str, Any] | None = None
) -> dict[str, Any]:
    spec: dict[str, Any] = {"template": pod or template()}
    if replicas is not None:
        spec["replicas"] = replicas
    return {"metadata": {"name": name}, "spec": spec}


def quota(name: str, hard: dict[str, str], used: dict[str, str], **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"hard": hard, **spec},
        "status": {"hard": hard, "used": used},
    }


def limit_range(name: str, *items: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"limits": list(items)}}
