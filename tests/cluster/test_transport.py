"""kube.ApiTransport on the wire: a local HTTP(S) server records what `kubeapi.connect`
sends through the official client (method, path, query, Content-Type, bearer token,
body) and answers canned JSON, errors and chunked watch streams."""

from __future__ import annotations

import base64
import contextlib
import http.server
import json
import ssl
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from support import servers

from injector.certs import issuing
from injector.cluster import kubeapi

TOKEN = "t0k3n-for-the-wire-test"
WEBHOOKS = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
TEXT = "text/plain; version=0.0.4; charset=utf-8"  # Prometheus' exposition
Answer = tuple[int, Any]  # status, JSON body, or a list of raw chunks for a stream


@dataclass
class Seen:
    method: str
    target: str  # the path with its raw query string
    headers: dict[str, str]  # names in lower case: HTTP header names are case-insensitive
    body: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> dict[str, str]:
        pairs = urllib.parse.parse_qsl(urllib.parse.urlsplit(self.target).query)
        return dict(pairs)


@dataclass
class FakeApiServer:
    """Answers are looked up by (method, path); anything else is a 404 Status."""

    answers: dict[tuple[str, str], list[Answer]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    hung_up: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def answer(self, method: str, path: str, status: int, body: Any) -> None:
        self.answers.setdefault((method, path), []).append((status, body))

    def next_answer(self, method: str, path: str) -> Answer:
        queued = self.answers.get((method, path))
        if not queued:
            return 404, {"kind": "Status", "reason": "NotFound", "message": f"{path} not found"}
        return queued.pop(0) if len(queued) > 1 else queued[0]


def _handler(api: FakeApiServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            api.seen.append(Seen(self.command, self.path, headers, body))
            status, answer = api.next_answer(self.command, self.path.split("?", 1)[0])
            if isinstance(answer, list):
                self._chunked(status, answer)
                return
            text = isinstance(answer, str)  # a Pod's own answer through the proxy
            data = answer.encode() if text else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", TEXT if text else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _chunked(self, status: int, chunks: list[bytes | None]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for chunk in chunks:
                    if chunk is None:  # hold the stream open, as an idle watch does
                        self._hold()
                        continue
                    self._chunk(chunk)
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                api.hung_up.set()

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def _hold(self) -> None:
            """Send blank lines (which a watch reader skips) until the client hangs up."""
            for _ in range(200):
                self._chunk(b"\n")
                if api.release.wait(0.02):
                    return

        do_GET = do_POST = do_PUT = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextlib.contextmanager
def _serving(tls: ssl.SSLContext | None = None) -> Iterator[FakeApiServer]:
    api = FakeApiServer()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    api.url = f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield api
    finally:
        api.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def _kubeconfig(path: Path, server: str, ca_pem: bytes | None = None) -> Path:
    cluster: dict[str, Any] = {"server": server}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "wire", "cluster": cluster}],
        "users": [{"name": "tester", "user": {"token": TOKEN}}],
        "contexts": [{"name": "wire", "context": {"cluster": "wire", "user": "tester"}}],
        "current-context": "wire",
    }
    path.write_text(json.dumps(config))
    return path


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    with _serving() as api:
        yield api


@pytest.fixture
def cluster(api: FakeApiServer, tmp_path: Path) -> kubeapi.Cluster:
    connected = kubeapi.connect(_kubeconfig(tmp_path / "kubeconfig", api.url))
    assert connected is not None
    return connected


def _only(api: FakeApiServer) -> Seen:
    (seen,) = api.seen
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["accept"] == "application/json"
    return seen


# ---- requests ------------------------------------------------------------------------------


def test_version_is_a_get_with_the_bearer_token(
    api: FakeApiServer, cluster: kubeapi.Cluster
) -> None:
    api.answer("GET", "/version", 200, {"major": "1", "minor": "29+", "gitVersion": "v1.29.4"})
    assert cluster.version() == (1, 29)
    seen = _only(api)
    assert (seen.method, seen.target, seen.body) == ("GET", "/version", b"")


def test_a_pods_metrics_through_the_proxy_come_back_as_text(
    api: FakeApiServer, cluster: kubeapi.Cluster
) -> None:
    path = "/api/v1/namespaces/si/pods/https:si-0:9443/proxy/metrics"
    api.answer("GET", path, 200, 'sidecar_injector_settings_healthy{source="file"} 1.0\n')
    assert cluster.pod_metrics("si", "si-0", 9443).startswith("sidecar_injector_settings")
    assert _only(api).target == path


def test_a_list_follows_continue_tokens_to_the_last_page(
    api: FakeApiServer, cluster: kubeapi.Cluster
) -> None:
    first = {"items": [{"metadata": {"name": "a"}}], "metadata": {"continue": "tok/en="}}
    last = {"items": [{"metadata": {"name": "b"}}], "metadata": {"resourceVersion": "42"}}
    api.answer("GET", "/api/v1/namespaces", 200, first)
    api.answer("GET", "/api/v1/namespaces", 200, last)
    items, version = cluster.list_namespaces()
    assert ([i["metadata"]["name"] for i in items], version) == (["a", "b"], "42")
    assert [s.target for s in api.seen] == [
        "/api/v1/namespaces?limit=500",
        "/api/v1/namespaces?limit=500&continue=tok/en%3D",
    ]


def test_server_side_apply_is_a_patch_as_our_field_manager(
    api: FakeApiServer, cluster: kubeapi.Cluster
) -> None:
    config = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "sidecar-injector"},
    }
    api.answer("PATCH", f"{WEBHOOKS}/sidecar-injector", 200, {**config, "webhooks": []})
    assert cluster.apply_webhook_config(config)["webhooks"] == []
    seen = _only(api)
    assert seen.method == "PATCH"
    assert seen.target == f"{WEBHOOKS}/sidecar-injector?fieldManager=sidecar-injector&force=true"
    assert seen.headers["content-type"] == "application/apply-patch+yaml"
    assert json.loads(seen.body) == config


def test_create_is_a_json_post_of_the_object(api: FakeApiServer, cluster: kubeapi.Cluster) -> None:
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "web.1"},
             "message": "sidecar injected into Pod web-\u00e9"}  # fmt: skip
    api.answer("POST", "/api/v1/namespaces/shop/events", 201, event)
    assert cluster.create_event("shop", event) == event
    seen = _only(api)
    assert (seen.method, seen.target) == ("POST", "/api/v1/namespaces/shop/events")
    assert seen.headers["content-type"] == "application/json"
    assert json.loads(seen.body) == event


def test_replace_is_a_json_put_with_the_resource_version(
    api: FakeApiServer, cluster: kubeapi.Cluster
) -> None:
    secret = {"metadata": {"name": "sidecar-injector-certs", "resourceVersion": "7"}}
    path = "/api/v1/namespaces/sidecar-injector/secrets/sidecar-injector-certs"
    api.answer("PUT", path, 200, secret)
    cluster.replace_secret("sidecar-injector", secret)
    seen = _only(api)
    assert (seen.method, seen.target) == ("PUT", path)
    assert seen.headers["content-type"] == "application/json"
    assert json.loads(seen.body) == secret


def test_a_missing_object_is_none(api: FakeApiServer, cluster: kubeapi.Cluster) -> None:
    assert cluster.get_namespace("nowhere") is None
    assert _only(api).target == "/api/v1/namespaces/nowhere"


def test_a_conflict_is_an_api_error_with_the_status_reason_and_message(
    api: FakeApiServer, cluster: kubeapi.Cluster
) -> None:
    status = {"kind": "Status", "status": "Failure", "reason": "AlreadyExists", "code": 409,
              "message": 'secrets "sidecar-injector-certs" already exists'}  # fmt: skip
    api.answer("POST", "/api/v1/namespaces/sidecar-injector/secrets", 409, status)
    with pytest.raises(kubeapi.ApiError) as raised:
        cluster.create_secret("sidecar-injector", {"metadata": {"name": "sidecar-injector-certs"}})
    assert raised.value.conflict and not raised.value.not_found
    assert (raised.value.reason, raised.value.message) == ("AlreadyExists", status["message"])


def test_an_unreachable_server_is_an_api_error_with_status_zero(tmp_path: Path) -> None:
    cluster = kubeapi.connect(
        _kubeconfig(tmp_path / "kc", f"http://127.0.0.1:{servers.free_port()}")
    )
    assert cluster is not None
    with pytest.raises(kubeapi.ApiError) as raised:
        cluster.version()
    assert (raised.value.status, raised.value.reason) == (0, "Unreachable")


# ---- watch streams -------------------------------------------------------------------------


def _event(kind: str, name: str, version: str) -> bytes:
    obj = {"metadata": {"name": name, "resourceVersion": version}}
    return json.dumps({"type": kind, "object": obj}).encode() + b"\n"


def test_a_watch_is_parsed_from_a_chunked_stream_across_chunk_boundaries(
    api: FakeApiServer, cluster: kubeapi.Cluster
) -> None:
    added, modified = _event("ADDED", "sidecar-injector", "8"), _event("MODIFIED", "x", "9")
    chunks = [added[:10], added[10:] + modified[:5], modified[5:]]
    api.answer("GET", WEBHOOKS, 200, chunks)
    got = list(cluster.watch_webhook_config("sidecar-injector", "7"))
    assert [(e["type"], e["object"]["metadata"]["resourceVersion"]) for e in got] == [
        ("ADDED", "8"),
        ("MODIFIED", "9"),
    ]
    seen = _only(api)
    assert seen.path == WEBHOOKS
    assert seen.query == {
        "fieldSelector": "metadata.name=sidecar-injector",
        "watch": "1",
        "resourceVersion": "7",
        "allowWatchBookmarks": "true",
        "timeoutSeconds": "60",
    }
    assert "fieldSelector=metadata.name%3Dsidecar-injector" in seen.target


def test_a_refused_watch_is_an_api_error(api: FakeApiServer, cluster: kubeapi.Cluster) -> None:
    forbidden = {"kind": "Status", "reason": "Forbidden", "message": "cannot watch"}
    api.answer("GET", "/api/v1/namespaces", 403, forbidden)
    with pytest.raises(kubeapi.ApiError) as raised:
        list(cluster.watch_namespaces("1"))
    assert (raised.value.status, raised.value.reason) == (403, "Forbidden")


def test_a_watch_left_early_does_not_spoil_the_next_request(
    api: FakeApiServer, cluster: kubeapi.Cluster
) -> None:
    api.answer("GET", "/api/v1/namespaces", 200, [_event("ADDED", "a", "2"), None])
    api.answer("GET", "/version", 200, {"major": "1", "minor": "30"})
    stream = cluster.watch_namespaces("1")
    assert next(stream)["object"]["metadata"]["name"] == "a"
    stream.close()  # e.g. the watch loop was told to stop
    assert api.hung_up.wait(3), "the watch connection stayed open"
    assert cluster.version() == (1, 30)


# ---- TLS ----------------------------------------------------------------------------------


def test_https_is_verified_with_the_kubeconfigs_ca(tmp_path: Path) -> None:
    ca = issuing.new_ca()
    serving = issuing.new_serving(ca, dns_names=["localhost"], ips=["127.0.0.1"])
    (tmp_path / "tls.crt").write_bytes(serving.cert_pem)
    (tmp_path / "tls.key").write_bytes(serving.key_pem)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    with _serving(tls) as api:
        api.answer("GET", "/version", 200, {"major": "1", "minor": "31"})
        trusted = kubeapi.connect(_kubeconfig(tmp_path / "ok", api.url, ca.cert_pem))
        assert trusted is not None
        assert trusted.version() == (1, 31)
        stranger = kubeapi.connect(
            _kubeconfig(tmp_path / "bad", api.url, issuing.new_ca().cert_pem)
        )
        assert stranger is not None
        with pytest.raises(kubeapi.ApiError) as raised:
            stranger.version()
        assert raised.value.status == 0
        said = str(raised.value)
        assert said.startswith(f"TLS with the API server at {api.url} failed: "), said
        assert "CERTIFICATE_VERIFY_FAILED" in said and "_ssl.c" not in said
    assert len(api.seen) == 1, "the untrusted connection never got to send its request"
