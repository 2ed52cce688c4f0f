"""Every API call the injector makes, named: `Cluster` gives each its exact path, verb,
query and content type over a `transport.Transport`. Objects stay plain dicts (never typed
models, which drop unknown fields).

Nothing here runs on the admission hot path: callers use it from background threads.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from injector.cluster.reachability import Guarded, Reachability
from injector.cluster.transport import (
    APPLY_PATCH,
    FIELD_MANAGER,
    PAGE_SIZE,
    WATCH_SECONDS,
    ApiError,
    ConnectError,
    Transport,
    open_transport,
    open_user_transport,
)

__all__ = ["APPLY_PATCH", "WEBHOOKS", "ApiError", "Cluster", "ConnectError", "Transport"]


def connect(kubeconfig: Path | None = None, *, context: str | None = None) -> Cluster | None:
    """The server's cluster: from a kubeconfig, or from the in-cluster service account;
    None when neither is there (standalone)."""
    transport = open_transport(kubeconfig, context=context)
    return None if transport is None else Cluster(transport)


def connect_user(
    kubeconfig: Path | None = None,
    *,
    context: str | None = None,
    request_timeout: float | None = None,
) -> Cluster:
    """A person's cluster, found as kubectl finds it: the given kubeconfig, else
    $KUBECONFIG or ~/.kube/config, else the in-cluster service account. Each request
    gives up after `request_timeout` seconds of silence (default: the transport's)."""
    transport = open_user_transport(kubeconfig, context=context)
    if request_timeout is not None:
        transport.bound(request_timeout)
    return Cluster(transport)


WEBHOOKS = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
# The namespaced collections `plan` lists, by resource: their group version's path.
NAMESPACED = {
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


class Cluster:
    """Every API call the injector makes. See each method for its verb and path.
    Every call reports to `reachability` (logs and metrics of an outage)."""

    def __init__(self, transport: Transport) -> None:
        self.reachability = Reachability()
        self.transport: Transport = Guarded(transport, self.reachability)

    # -- discovery ---------------------------------------------------------------------

    def version(self) -> tuple[int, int]:
        """GET /version: the server's (major, minor), e.g. (1, 30) for "1.30+"."""
        info = self.transport.request("GET", "/version")
        info = info if isinstance(info, dict) else {}

        def number(key: str) -> int:
            # GKE and EKS report e.g. minor "30+": keep the leading digits.
            digits = re.match(r"[0-9]*", str(info.get(key, "")))
            return int(digits[0]) if digits and digits[0] else 0

        return number("major"), number("minor")

    # -- namespaces (get/list/watch) ------------------------------------------------

    def list_namespaces(self) -> tuple[list[dict[str, Any]], str]:
        """GET /api/v1/namespaces, all pages; returns the items and the resourceVersion."""
        return self._list("/api/v1/namespaces", {})

    def get_namespace(self, name: str) -> dict[str, Any] | None:
        """GET /api/v1/namespaces/NAME; None when it does not exist."""
        return self._get(f"/api/v1/namespaces/{name}")

    def watch_namespaces(self, resource_version: str) -> Iterator[dict[str, Any]]:
        """GET /api/v1/namespaces?watch=1 from a resourceVersion."""
        return self._watch("/api/v1/namespaces", resource_version, {})

    # -- our MutatingWebhookConfiguration --------------------------------------------

    def apply_webhook_config(
        self, config: dict[str, Any], *, field_manager: str = FIELD_MANAGER
    ) -> dict[str, Any]:
        """Server-side apply of (part of) our MutatingWebhookConfiguration, as a field
        manager of ours: PATCH .../NAME?fieldManager=MANAGER&force=true with Content-Type
        application/apply-patch+yaml. Only the fields in `config` are that manager's."""
        name = config["metadata"]["name"]
        query = {"fieldManager": field_manager, "force": "true"}
        result: dict[str, Any] = self.transport.request(
            "PATCH", f"{WEBHOOKS}/{name}", query=query, body=config, content_type=APPLY_PATCH
        )
        return result

    def list_webhook_config(self, name: str) -> tuple[list[dict[str, Any]], str]:
        """List our one configuration (fieldSelector metadata.name=NAME, which RBAC can
        restrict to that name): what a watch of it starts from."""
        return self._list(WEBHOOKS, {"fieldSelector": f"metadata.name={name}"})

    def watch_webhook_config(self, name: str, resource_version: str) -> Iterator[dict[str, Any]]:
        """Watch one configuration by name (fieldSelector metadata.name=NAME), which RBAC
        can restrict to that name."""
        return self._watch(WEBHOOKS, resource_version, {"fieldSelector": f"metadata.name={name}"})

    # -- Secrets and Leases in our own namespace ---------------------------------------

    def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._get(f"/api/v1/namespaces/{namespace}/secrets/{name}")

    def create_secret(self, namespace: str, secret: dict[str, Any]) -> dict[str, Any]:
        """POST; raises ApiError with `conflict` when another replica created it first."""
        return self._create(f"/api/v1/namespaces/{namespace}/secrets", secret)

    def replace_secret(self, namespace: str, secret: dict[str, Any]) -> dict[str, Any]:
        """PUT with the resourceVersion read before: a concurrent change is a conflict."""
        name = secret["metadata"]["name"]
        return self._replace(f"/api/v1/namespaces/{namespace}/secrets/{name}", secret)

    def list_secret(self, namespace: str, name: str) -> tuple[list[dict[str, Any]], str]:
        """List one Secret by name (fieldSelector metadata.name=NAME, which RBAC can
        restrict to that name): what a watch of it starts from."""
        path = f"/api/v1/namespaces/{namespace}/secrets"
        return self._list(path, {"fieldSelector": f"metadata.name={name}"})

    def watch_secret(
        self, namespace: str, name: str, resource_version: str
    ) -> Iterator[dict[str, Any]]:
        path = f"/api/v1/namespaces/{namespace}/secrets"
        return self._watch(path, resource_version, {"fieldSelector": f"metadata.name={name}"})

    def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._get(f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}")

    def create_lease(self, namespace: str, lease: dict[str, Any]) -> dict[str, Any]:
        return self._create(f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases", lease)

    def replace_lease(self, namespace: str, lease: dict[str, Any]) -> dict[str, Any]:
        name = lease["metadata"]["name"]
        path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"
        return self._replace(path, lease)

    # -- ConfigMaps by name (Istio's configuration, in its namespace) -----------------

    def list_configmap(self, namespace: str, name: str) -> tuple[list[dict[str, Any]], str]:
        """List one ConfigMap by name (fieldSelector metadata.name=NAME, which RBAC can
        restrict to that name): what a watch of it starts from."""
        path = f"/api/v1/namespaces/{namespace}/configmaps"
        return self._list(path, {"fieldSelector": f"metadata.name={name}"})

    def watch_configmap(
        self, namespace: str, name: str, resource_version: str
    ) -> Iterator[dict[str, Any]]:
        """Watch one ConfigMap by name (fieldSelector metadata.name=NAME)."""
        path = f"/api/v1/namespaces/{namespace}/configmaps"
        return self._watch(path, resource_version, {"fieldSelector": f"metadata.name={name}"})

    # -- Events and Pods -------------------------------------------------------------

    def create_event(self, namespace: str, event: dict[str, Any]) -> dict[str, Any]:
        """POST /api/v1/namespaces/NS/events (core Events, shown by kubectl describe)."""
        return self._create(f"/api/v1/namespaces/{namespace}/events", event)

    def list_pods(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """GET /api/v1/pods (or one namespace's), all pages."""
        path = f"/api/v1/namespaces/{namespace}/pods" if namespace else "/api/v1/pods"
        return self._list(path, {})[0]

    # -- what `plan` reads: lists only ----------------------------------------------------

    def list_in_namespace(self, resource: str, namespace: str) -> list[dict[str, Any]]:
        """GET <group version>/namespaces/NS/<resource>, all pages, for a resource of
        NAMESPACED (Deployments, ..., Pods, ResourceQuotas, LimitRanges)."""
        return self._list(f"{NAMESPACED[resource]}/namespaces/{namespace}/{resource}", {})[0]

    def list_nodes(self) -> list[dict[str, Any]]:
        """GET /api/v1/nodes, all pages."""
        return self._list("/api/v1/nodes", {})[0]

    # -- what `doctor` reads ------------------------------------------------------------

    def list_webhook_configs(self) -> list[dict[str, Any]]:
        """GET every MutatingWebhookConfiguration (ours and everyone else's), all pages."""
        return self._list(WEBHOOKS, {})[0]

    def get_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        """GET /api/v1/namespaces/NS/configmaps/NAME; None when it does not exist."""
        return self._get(f"/api/v1/namespaces/{namespace}/configmaps/{name}")

    def pod_metrics(self, namespace: str, pod: str, port: int) -> str:
        """A Pod's /metrics over HTTPS, through the API server's Pod proxy (needs `get` on
        pods/proxy): GET /api/v1/namespaces/NS/pods/https:POD:PORT/proxy/metrics."""
        path = f"/api/v1/namespaces/{namespace}/pods/https:{pod}:{port}/proxy/metrics"
        text = self.transport.request("GET", path)
        if not isinstance(text, str):
            raise ApiError(0, "NotText", f"{path} did not answer with Prometheus text")
        return text

    # -- shapes shared by the calls above -----------------------------------------------

    def _get(self, path: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self.transport.request("GET", path)
        except ApiError as err:
            if err.not_found:
                return None
            raise
        return found

    def _create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = self.transport.request("POST", path, body=body)
        return created

    def _replace(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        replaced: dict[str, Any] = self.transport.request("PUT", path, body=body)
        return replaced

    def _list(self, path: str, query: dict[str, str]) -> tuple[list[dict[str, Any]], str]:
        items: list[dict[str, Any]] = []
        page = {**query, "limit": str(PAGE_SIZE)}
        while True:
            answer = self.transport.request("GET", path, query=page)
            items += answer.get("items") or []
            metadata = answer.get("metadata") or {}
            if not metadata.get("continue"):
                return items, str(metadata.get("resourceVersion", ""))
            page = {**query, "limit": str(PAGE_SIZE), "continue": metadata["continue"]}

    def _watch(
        self, path: str, resource_version: str, query: dict[str, str]
    ) -> Iterator[dict[str, Any]]:
        watch = {
            **query,
            "watch": "1",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(WATCH_SECONDS),
        }
        return self.transport.stream(path, query=watch)
