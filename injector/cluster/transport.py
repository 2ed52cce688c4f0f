"""The client seam: the only module that imports the official `kubernetes` client.

A `Transport` sends one HTTP request (or opens one watch stream) and returns plain JSON
data. `ApiTransport` does it with the official client's configuration, authentication and
TLS (kubeconfig or in-cluster); tests use an in-process fake with the same shape.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import orjson
import urllib3
import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client import rest as k8s_rest
from kubernetes.config.config_exception import ConfigException

from injector.cluster import no_answer

FIELD_MANAGER = "sidecar-injector"
APPLY_PATCH = "application/apply-patch+yaml"
JSON = "application/json"
# A watch ends on the server's side after this long and is then re-opened; a watch
# silent for that long plus REQUEST_TIMEOUT_SECONDS is taken for a dead server.
WATCH_SECONDS = 60
# Every request: a connection within CONNECT, then no silence longer than REQUEST.
CONNECT_TIMEOUT_SECONDS = 5.0
REQUEST_TIMEOUT_SECONDS = 10.0
PAGE_SIZE = 500


class ApiError(Exception):
    """kube-apiserver answered with an error status."""

    def __init__(
        self, status: int, reason: str, message: str, *, retry_after: float | None = None
    ) -> None:
        # Status 0 is no answer at all: the message says what failed, in words.
        super().__init__(message if status == 0 else f"{status} {reason}: {message}")
        self.status, self.reason, self.message = status, reason, message
        self.retry_after = retry_after  # seconds, from a Retry-After the server sent

    @property
    def unavailable(self) -> bool:
        """No answer, or the server says it cannot serve now (429, 5xx): try later."""
        return self.status in {0, 429} or 500 <= self.status <= 599

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


def _seconds(value: object) -> float | None:
    """A Retry-After in seconds (the HTTP-date form is not used by kube-apiserver)."""
    try:
        seconds = float(str(value).strip())
    except ValueError:
        return None
    return seconds if 0 <= seconds < float("inf") else None


def _error(
    status: int, data: bytes | str, fallback: str = "", retry_after: object = None
) -> ApiError:
    """An ApiError from a failed answer, whose body is normally a metav1.Status."""
    try:
        detail = orjson.loads(data)
    except orjson.JSONDecodeError:
        detail = {}
    if not isinstance(detail, dict):
        detail = {}
    reason = str(detail.get("reason") or fallback)
    if retry_after is None and isinstance(detail.get("details"), dict):
        retry_after = detail["details"].get("retryAfterSeconds")
    wait = None if retry_after is None else _seconds(retry_after)
    return ApiError(status, reason, str(detail.get("message", "")), retry_after=wait)


def unreachable(err: Exception, host: str, timeouts: tuple[float, float]) -> ApiError:
    """ApiError(0) for a request that got no answer, saying in words what failed."""
    return ApiError(0, "Unreachable", no_answer.describe(err, host, timeouts))


class ApiTransport:
    """HTTP through the official client's connection pool, auth and TLS settings.

    Only `param_serialize` (URL, query encoding, auth headers) and `call_api` (the
    request) of the client are used. The body is handed over as plain data: the client
    serializes it with `json.dumps` for application/json and for the structured YAML
    type application/apply-patch+yaml alike (JSON is YAML); bytes would be refused for
    application/json. tests/cluster/test_transport.py checks what goes on the wire.
    """

    def __init__(self, api: k8s_client.ApiClient) -> None:
        # No retries inside urllib3: each would log a warning, and the loops retry with
        # their own backoff (cluster.backoff) where retrying makes sense.
        api.configuration.retries = False
        api.rest_client = k8s_rest.RESTClientObject(api.configuration)
        self.api = api
        self.timeouts = (CONNECT_TIMEOUT_SECONDS, REQUEST_TIMEOUT_SECONDS)

    def bound(self, seconds: float) -> None:
        """Give up on a request after `seconds` of silence (and on connecting, sooner)."""
        self.timeouts = (min(CONNECT_TIMEOUT_SECONDS, seconds), seconds)

    def _send(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None,
        body: Any,
        content_type: str,
        timeout: tuple[float, float],
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
            if not err.status:
                text = no_answer.tls(str(err.reason or ""), self.api.configuration.host)
                raise ApiError(0, "Unreachable", text) from None
            body_text = err.body if isinstance(err.body, bytes) else str(err.body or "")
            raise _error(int(err.status), body_text, str(err.reason)) from None
        except urllib3.exceptions.HTTPError as err:
            raise unreachable(err, self.api.configuration.host, timeout) from None

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
            timeout=self.timeouts,
        )
        try:
            data = response.read()
        except urllib3.exceptions.HTTPError as err:
            raise unreachable(err, self.api.configuration.host, self.timeouts) from None
        if response.status >= 400:
            wait = response.getheader("Retry-After")
            raise _error(response.status, data, str(response.reason), wait)
        if str(response.getheader("Content-Type") or "").startswith("text/plain"):
            # A Pod's own answer through the API server's proxy (e.g. /metrics).
            return data.decode("utf-8", errors="replace")
        return orjson.loads(data) if data else None

    def stream(self, path: str, *, query: Mapping[str, str]) -> Iterator[dict[str, Any]]:
        watch_seconds = float(query.get("timeoutSeconds") or WATCH_SECONDS)
        timeouts = (self.timeouts[0], watch_seconds + self.timeouts[1])
        response = self._send(
            "GET", path, query=query, body=None, content_type=JSON, timeout=timeouts
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
            raise unreachable(err, self.api.configuration.host, timeouts) from None
        finally:
            # A watch left early must not hand a half-read connection back to the pool.
            raw.close()
            raw.release_conn()


def _configuration(kubeconfig: Path | None, context: str | None) -> k8s_client.Configuration:
    """Client settings from a kubeconfig (None: $KUBECONFIG or ~/.kube/config)."""
    if kubeconfig is not None:
        _check_file(kubeconfig, "--kubeconfig")
    configuration = k8s_client.Configuration()
    try:
        k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=None if kubeconfig is None else str(kubeconfig),
            context=context,
            client_configuration=configuration,
        )
    except OSError as err:
        where = kubeconfig or "the default kubeconfig"
        raise ConnectError(f"{where}: cannot read: {err.strerror}") from None
    except yaml.YAMLError:
        where = kubeconfig or "the default kubeconfig"
        raise ConnectError(f"{where}: not a kubeconfig (not valid YAML)") from None
    except (ConfigException, ValueError, TypeError, AttributeError, KeyError) as err:
        # The client reads the file as it goes: a YAML document of another shape fails
        # with whatever it tripped on, never with a message about the file.
        where = kubeconfig or "the default kubeconfig"
        detail = str(err) if isinstance(err, ConfigException) else "not the shape of a kubeconfig"
        raise ConnectError(f"{where}: not a kubeconfig ({detail})") from None
    return configuration


def _check_file(path: Path, where: str) -> None:
    """ConnectError naming `where` (a flag, KUBECONFIG) and the path when it is not a file."""
    if path.is_dir():
        raise ConnectError(f"{where} {path}: a directory, not a kubeconfig file")
    if not path.expanduser().exists():
        raise ConnectError(f"{where} {path}: no such file")


def _in_cluster() -> k8s_client.Configuration:
    configuration = k8s_client.Configuration()
    try:
        k8s_config.load_incluster_config(  # type: ignore[no-untyped-call]
            client_configuration=configuration
        )
    except ConfigException as err:
        raise ConnectError(f"in-cluster configuration: {err}") from None
    return configuration


def open_transport(kubeconfig: Path | None, *, context: str | None) -> ApiTransport | None:
    """The server's cluster: from a kubeconfig, or from the in-cluster service account;
    None when neither is there (standalone)."""
    if kubeconfig is not None:
        configuration = _configuration(kubeconfig, context)
    elif os.environ.get("KUBERNETES_SERVICE_HOST"):
        configuration = _in_cluster()
    else:
        return None
    return ApiTransport(k8s_client.ApiClient(configuration))


def open_user_transport(kubeconfig: Path | None, *, context: str | None) -> ApiTransport:
    """A person's cluster, found as kubectl finds it: the given kubeconfig, else
    $KUBECONFIG or ~/.kube/config, else the in-cluster service account."""
    listed = os.environ.get("KUBECONFIG")
    if kubeconfig is None and listed:
        _check_file(Path(listed.split(os.pathsep)[0]), "KUBECONFIG")
    default = Path("~/.kube/config")
    if kubeconfig is None and not listed and not default.expanduser().exists():
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            return ApiTransport(k8s_client.ApiClient(_in_cluster()))
        raise ConnectError(
            f"no kubeconfig: {default} does not exist; pass --kubeconfig or set KUBECONFIG"
        )
    return ApiTransport(k8s_client.ApiClient(_configuration(kubeconfig, context)))
