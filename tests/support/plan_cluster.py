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


def documented_shop(api: FakeApi, *, fixed: bool) -> None:
    """docs/plan.md's namespace `shop`: a quota and a LimitRange the sidecars break, and
    (`fixed`) the same once the platform team has made room for them."""
    namespace(api, "shop", team="shop")
    web = container("web", requests={"cpu": "250m", "memory": "256Mi"},
                    limits={"cpu": "1", "memory": "512Mi"})  # fmt: skip
    put(api, "deployments", "shop", deployment("web", 3, template(web)))
    put(api, "deployments", "shop", deployment("worker", 2, template(web)))
    put(api, "deployments", "shop", deployment("legacy", 0, template(web)))
    opted_out = template(web, labels={"sidecar.istio.io/inject": "false"})
    put(api, "statefulsets", "shop", deployment("cache", 1, opted_out))
    cron = {"jobTemplate": {"spec": {"template": template(web, restartPolicy="Never")}}}
    put(
        api,
        "cronjobs",
        "shop",
        {"metadata": {"name": "report"}, "spec": {"schedule": "0 * * * *", **cron}},
    )
    hard = {"requests.cpu": "3", "requests.memory": "3Gi" if fixed else "2Gi", "pods": "20"}
    used = {"requests.cpu": "1500m", "requests.memory": "1536Mi", "pods": "6"}
    put(api, "resourcequotas", "shop", quota("compute", hard, used))
    item = {"type": "Container", "max": {"memory": "1Gi" if fixed else "512Mi"}}
    put(api, "limitranges", "shop", limit_range("sizes", item))
