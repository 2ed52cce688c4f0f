"""The cluster edge: the only module that talks to kube-apiserver.

Two layers, both thin on purpose:
- a `Transport` sends one HTTP request (or opens one watch stream) and returns plain JSON
  data. `ApiTransport` does it with the official client's configuration, authentication
  and TLS (kubeconfig or in-cluster); tests use an in-process fake with the same shape;
- `Cluster` names every API call the injector makes, with its exact path, verb, query and
  content type. Objects stay plain dicts (never typed models, which drop unknown fields).

Nothing here runs on the admission hot path: callers use it from background threads.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import orjson
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

FIELD_MANAGER = "sidecar-injector"
APPLY_PATCH = "application/apply-patch+yaml"
JSON = "application/json"
# A watch ends on the server's side after this long and is then re-opened.
WATCH_SECONDS = 300
REQUEST_TIMEOUT_SECONDS = 10
PAGE_SIZE = 500


class ApiError(Exception):
    """kube-apiserver answered with an error status."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status, self.reason, self.message = status, reason, message

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        """Someone else created or changed the object first (409)."""
        return self.status == 409


class Transport(Protocol):
    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = JSON,
    ) -> Any: ...

    def stream(self, path: str, *, query: Mapping[str, str]) -> Iterator[dict[str, Any]]: ...


def _error(status: int, data: bytes) -> ApiError:
    try:
        detail = orjson.loads(data)
    except orjson.JSONDecodeError:
        detail = {}
    if not isinstance(detail, dict):
        detail = {}
    return ApiError(status, str(detail.get("reason", "")), str(detail.get("message", "")))


class ApiTransport:
    """HTTP through the official client's connection pool, auth and TLS settings."""

    def __init__(self, api: k8s_client.ApiClient) -> None:
        self.api = api

    def _send(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None,
        body: Any,
        content_type: str,
        timeout: float,
    ) -> Any:
        payload = None if body is None else orjson.dumps(body)
        serialized = self.api.param_serialize(
            method=method,
            resource_path=path,
            query_params=list((query or {}).items()),
            header_params={"Accept": JSON, "Content-Type": content_type},
            body=payload,
            auth_settings=["BearerToken"],
        )
        return self.api.call_api(*serialized, _request_timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = JSON,
    ) -> Any:
        try:
            response = self._send(
                method,
                path,
                query=query,
                body=body,
                content_type=content_type,
                timeout=REQUEST_TIMEOUT_SECONDS,
            )
        except k8s_client.ApiException as err:
            raise _error(int(err.status or 0), (err.body or b"") if isinstance(err.body, bytes)
                         else str(err.body or "").encode()) from None  # fmt: skip
        data = response.read()
        if response.status >= 400:
            raise _error(response.status, data)
        return orjson.loads(data) if data else None

    def stream(self, path: str, *, query: Mapping[str, str]) -> Iterator[dict[str, Any]]:
        response = self._send(
            "GET", path, query=query, body=None, content_type=JSON, timeout=WATCH_SECONDS + 30
        )
        if response.status >= 400:
            raise _error(response.status, response.read())
        buffer = b""
        for chunk in response.response.stream(64 * 1024, decode_content=True):
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if line.strip():
                    yield orjson.loads(line)


def connect(kubeconfig: Path | None = None, *, context: str | None = None) -> Cluster | None:
    """A cluster from a kubeconfig, or from the in-cluster service account; None when
    neither is there (standalone)."""
    configuration = k8s_client.Configuration()
    if kubeconfig is not None:
        k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig), context=context, client_configuration=configuration
        )
    elif os.environ.get("KUBERNETES_SERVICE_HOST"):
        k8s_config.load_incluster_config(  # type: ignore[no-untyped-call]
            client_configuration=configuration
        )
    else:
        return None
    return Cluster(ApiTransport(k8s_client.ApiClient(configuration)))


WEBHOOKS = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"


class Cluster:
    """Every API call the injector makes. See each method for its verb and path."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    # -- discovery ---------------------------------------------------------------------

    def version(self) -> tuple[int, int]:
        """GET /version: the server's (major, minor), e.g. (1, 30) for "1.30+"."""
        info = self.transport.request("GET", "/version")
        minor = "".join(ch for ch in str(info.get("minor", "0")) if ch.isdigit()) or "0"
        return int(str(info.get("major", "0")) or 0), int(minor)

    # -- namespaces (get/list/watch) ------------------------------------------------

    def list_namespaces(self) -> tuple[list[dict[str, Any]], str]:
        """GET /api/v1/namespaces, all pages; returns the items and the resourceVersion."""
        return self._list("/api/v1/namespaces", {})

    def watch_namespaces(self, resource_version: str) -> Iterator[dict[str, Any]]:
        """GET /api/v1/namespaces?watch=1 from a resourceVersion."""
        return self._watch("/api/v1/namespaces", resource_version, {})

    # -- our MutatingWebhookConfiguration --------------------------------------------

    def get_webhook_config(self, name: str) -> dict[str, Any] | None:
        """GET .../mutatingwebhookconfigurations/NAME; None when it does not exist."""
        return self._get(f"{WEBHOOKS}/{name}")

    def apply_webhook_config(self, config: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply of (part of) our MutatingWebhookConfiguration, as our own
        field manager: PATCH .../NAME?fieldManager=sidecar-injector&force=true with
        Content-Type application/apply-patch+yaml. Only the fields in `config` are ours."""
        name = config["metadata"]["name"]
        query = {"fieldManager": FIELD_MANAGER, "force": "true"}
        result: dict[str, Any] = self.transport.request(
            "PATCH", f"{WEBHOOKS}/{name}", query=query, body=config, content_type=APPLY_PATCH
        )
        return result

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

    # -- Events and Pods -------------------------------------------------------------

    def create_event(self, namespace: str, event: dict[str, Any]) -> dict[str, Any]:
        """POST /api/v1/namespaces/NS/events (core Events, shown by kubectl describe)."""
        return self._create(f"/api/v1/namespaces/{namespace}/events", event)

    def list_pods(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """GET /api/v1/pods (or one namespace's), all pages."""
        path = f"/api/v1/namespaces/{namespace}/pods" if namespace else "/api/v1/pods"
        return self._list(path, {})[0]

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
