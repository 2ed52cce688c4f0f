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
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import orjson
import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

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


class ConnectError(Exception):
    """No usable cluster configuration (a bad kubeconfig, or none at all)."""


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


def _error(status: int, data: bytes | str, fallback: str = "") -> ApiError:
    """An ApiError from a failed answer, whose body is normally a metav1.Status."""
    try:
        detail = orjson.loads(data)
    except orjson.JSONDecodeError:
        detail = {}
    if not isinstance(detail, dict):
        detail = {}
    reason = str(detail.get("reason") or fallback)
    return ApiError(status, reason, str(detail.get("message", "")))


class ApiTransport:
    """HTTP through the official client's connection pool, auth and TLS settings.

    Only `param_serialize` (URL, query encoding, auth headers) and `call_api` (the
    request) of the client are used. The body is handed over as plain data: the client
    serializes it with `json.dumps` for application/json and for the structured YAML
    type application/apply-patch+yaml alike (JSON is YAML); bytes would be refused for
    application/json. tests/test_kube_wire.py checks what goes on the wire.
    """

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
        serialized = self.api.param_serialize(
            method=method,
            resource_path=path,
            query_params=list((query or {}).items()),
            header_params={"Accept": JSON, "Content-Type": content_type},
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            return self.api.call_api(*serialized, _request_timeout=timeout)
        except k8s_client.ApiException as err:  # TLS failures come back as status 0
            body_text = err.body if isinstance(err.body, bytes) else str(err.body or "")
            raise _error(int(err.status or 0), body_text, str(err.reason)) from None
        except urllib3.exceptions.HTTPError as err:
            raise ApiError(0, "Unreachable", str(err)) from None

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = JSON,
    ) -> Any:
        response = self._send(
            method,
            path,
            query=query,
            body=body,
            content_type=content_type,
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
        data = response.read()
        if response.status >= 400:
            raise _error(response.status, data, str(response.reason))
        return orjson.loads(data) if data else None

    def stream(self, path: str, *, query: Mapping[str, str]) -> Iterator[dict[str, Any]]:
        response = self._send(
            "GET", path, query=query, body=None, content_type=JSON, timeout=WATCH_SECONDS + 30
        )
        raw = response.response
        try:
            if response.status >= 400:
                raise _error(response.status, raw.read(), str(response.reason))
            buffer = b""
            for chunk in raw.stream(64 * 1024, decode_content=True):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield orjson.loads(line)
        except urllib3.exceptions.HTTPError as err:
            raise ApiError(0, "Unreachable", str(err)) from None
        finally:
            # A watch left early must not hand a half-read connection back to the pool.
            raw.close()
            raw.release_conn()


def _configuration(kubeconfig: Path | None, context: str | None) -> k8s_client.Configuration:
    """Client settings from a kubeconfig (None: $KUBECONFIG or ~/.kube/config)."""
    configuration = k8s_client.Configuration()
    try:
        k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=None if kubeconfig is None else str(kubeconfig),
            context=context,
            client_configuration=configuration,
        )
    except (ConfigException, OSError) as err:
        where = kubeconfig or "the default kubeconfig"
        raise ConnectError(f"{where}: {err}") from None
    return configuration


def _in_cluster() -> k8s_client.Configuration:
    configuration = k8s_client.Configuration()
    try:
        k8s_config.load_incluster_config(  # type: ignore[no-untyped-call]
            client_configuration=configuration
        )
    except ConfigException as err:
        raise ConnectError(f"in-cluster configuration: {err}") from None
    return configuration


def connect(kubeconfig: Path | None = None, *, context: str | None = None) -> Cluster | None:
    """The server's cluster: from a kubeconfig, or from the in-cluster service account;
    None when neither is there (standalone)."""
    if kubeconfig is not None:
        configuration = _configuration(kubeconfig, context)
    elif os.environ.get("KUBERNETES_SERVICE_HOST"):
        configuration = _in_cluster()
    else:
        return None
    return Cluster(ApiTransport(k8s_client.ApiClient(configuration)))


def connect_user(kubeconfig: Path | None = None, *, context: str | None = None) -> Cluster:
    """A person's cluster, found as kubectl finds it: the given kubeconfig, else
    $KUBECONFIG or ~/.kube/config, else the in-cluster service account."""
    default = Path(os.environ.get("KUBECONFIG", "~/.kube/config").split(os.pathsep)[0])
    if kubeconfig is None and not default.expanduser().exists():
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            return Cluster(ApiTransport(k8s_client.ApiClient(_in_cluster())))
        raise ConnectError("no kubeconfig: pass --kubeconfig or set KUBECONFIG")
    configuration = _configuration(kubeconfig, context)
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
