"""Our webhook configuration, the certificate its caBundle must verify (from the Secret
for a Service, a real TLS handshake for a url), the Lease, the Secret, native sidecars,
and how API errors during the run are reported."""

from __future__ import annotations

import base64
import contextlib
import datetime
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import doctor_cluster
from support.fake_kube import FakeApi

from injector.certs import authority, cluster_store, issuing
from injector.cluster import kubeapi
from injector.core.config import Config
from injector.doctor import run, target

NOW = issuing.now_utc()
LEASES = f"/apis/coordination.k8s.io/v1/namespaces/{doctor_cluster.NS}/leases"
SECRETS = f"{doctor_cluster.NAMESPACES}/{doctor_cluster.NS}/secrets"


@pytest.fixture
def api() -> FakeApi:
    fake = FakeApi(version=("1", "30"))
    doctor_cluster.healthy(fake, NOW)
    return fake


def _lines(api: FakeApi, *checks: str, config: Config | None = None) -> list[tuple[str, str]]:
    where = target.Target(kubeapi.Cluster(api), config or Config(), NOW, tls_timeout=2)
    return [(c.status, c.message) for c in run.run(where) if c.check in checks]


def _ours(api: FakeApi) -> dict[str, Any]:
    return api.objects[doctor_cluster.WEBHOOKS]["sidecar-injector"]


def _set_bundle(api: FakeApi, pem: bytes) -> None:
    configuration = _ours(api)
    for hook in configuration["webhooks"]:
        hook["clientConfig"]["caBundle"] = base64.b64encode(pem).decode() if pem else ""
    api.put(doctor_cluster.WEBHOOKS, configuration)


def test_an_unregistered_webhook_configuration_fails(api: FakeApi) -> None:
    api.delete(doctor_cluster.WEBHOOKS, "sidecar-injector")
    (line,) = _lines(api, "webhook-registered")
    assert line[0] == "fail" and "sidecar-injector is not registered" in line[1]
    assert _lines(api, "webhook-ca-bundle") == []


@pytest.mark.parametrize(
    ("bundle", "message"),
    [
        pytest.param(b"", "has no caBundle", id="no-bundle"),
        pytest.param(b"not pem", "holds no PEM certificate", id="not-pem"),
    ],
)
def test_a_missing_or_broken_ca_bundle_fails(api: FakeApi, bundle: bytes, message: str) -> None:
    _set_bundle(api, bundle)
    (line,) = _lines(api, "webhook-ca-bundle")
    assert line[0] == "fail" and message in line[1]


def test_a_ca_bundle_that_does_not_verify_the_secrets_certificate_fails(api: FakeApi) -> None:
    _set_bundle(api, doctor_cluster.material(NOW).bundle_pem)  # another CA
    (line,) = _lines(api, "webhook-ca-bundle")
    assert line[0] == "fail" and "does not chain to the caBundle" in line[1]


def test_a_serving_certificate_without_the_services_name_fails(api: FakeApi) -> None:
    other = doctor_cluster.material(NOW, service="another")
    _set_bundle(api, other.bundle_pem)
    secret = api.objects[SECRETS]["sidecar-injector-certs"]
    replaced = cluster_store.secret_for(
        other, name="sidecar-injector-certs", namespace=doctor_cluster.NS, version=None
    )
    secret["data"] = replaced["data"]
    (line,) = _lines(api, "webhook-ca-bundle")
    assert line[0] == "fail"
    assert "does not name sidecar-injector.sidecar-injector.svc" in line[1]


@contextlib.contextmanager
def _tls_server(tmp_path: Path, material: Any) -> Iterator[int]:
    """A TLS listener on 127.0.0.1 serving `material`'s certificate; yields its port."""
    (tmp_path / "tls.crt").write_bytes(material.leaf.cert_pem)
    (tmp_path / "tls.key").write_bytes(material.leaf.key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                conn, _ = listener.accept()
                conn.settimeout(2)
                with contextlib.suppress(OSError), context.wrap_socket(conn, server_side=True):
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def _url_material() -> Any:
    settings = authority.Settings(dns_names=("localhost",), ips=("127.0.0.1",))
    return authority.advance(None, authority.Step.START, now=NOW, settings=settings)


def _use_url(api: FakeApi, url: str, bundle: bytes) -> None:
    configuration = _ours(api)
    for hook in configuration["webhooks"]:
        hook["clientConfig"] = {"url": url, "caBundle": base64.b64encode(bundle).decode()}
    api.put(doctor_cluster.WEBHOOKS, configuration)


def test_a_url_is_verified_with_a_real_handshake(api: FakeApi, tmp_path: Path) -> None:
    served = _url_material()
    with _tls_server(tmp_path, served) as port:
        url = f"https://127.0.0.1:{port}/inject"
        _use_url(api, url, served.bundle_pem)
        assert _lines(api, "webhook-ca-bundle") == [
            ("pass", f"the caBundle verifies the certificate {url} serves")
        ]
        _use_url(api, url, _url_material().bundle_pem)
        ((status, message),) = _lines(api, "webhook-ca-bundle")
    assert status == "fail" and "does not verify" in message


def test_a_url_that_cannot_be_reached_is_a_warning(api: FakeApi) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    _use_url(api, f"https://127.0.0.1:{port}/inject", _url_material().bundle_pem)
    ((status, message),) = _lines(api, "webhook-ca-bundle")
    assert status == "warn" and "cannot complete a TLS handshake" in message


def test_a_lease_without_its_secret_fails(api: FakeApi) -> None:
    api.delete(SECRETS, "sidecar-injector-certs")
    assert _lines(api, "secret") == [
        ("fail", "no Secret sidecar-injector-certs: the replicas have nothing to serve")
    ]


def test_neither_lease_nor_secret_is_one_warning(api: FakeApi) -> None:
    api.delete(SECRETS, "sidecar-injector-certs")
    api.delete(LEASES, "sidecar-injector-leader")
    ((status, message),) = _lines(api, "lease", "secret")
    assert status == "warn" and "not cluster mode" in message
    ((status, message),) = _lines(api, "webhook-ca-bundle")
    assert status == "warn" and "cannot see the certificate" in message


def test_an_expired_serving_certificate_fails(api: FakeApi) -> None:
    later = NOW + datetime.timedelta(days=2)
    where = target.Target(kubeapi.Cluster(api), Config(), later)
    lines = {c.check: c.status for c in run.run(where)}
    assert lines["secret"] == "fail" and lines["webhook-ca-bundle"] == "fail"


@pytest.mark.parametrize(
    ("mode", "version", "status"),
    [
        pytest.param("true", ("1", "28"), "fail", id="true-on-1.28"),
        pytest.param("true", ("1", "29"), "pass", id="true-on-1.29"),
        pytest.param("auto", ("1", "27"), "pass", id="auto-on-1.27"),
        pytest.param("false", ("1", "30"), "pass", id="false-on-1.30"),
    ],
)
def test_native_sidecars_need_1_29(
    api: FakeApi, mode: Any, version: tuple[str, str], status: str
) -> None:
    api.version_info = {"major": version[0], "minor": version[1]}
    ((found, message),) = _lines(api, "native-sidecar", config=Config(nativeSidecar=mode))
    assert found == status
    assert f"the API server is {version[0]}.{version[1]}" in message


def test_a_refused_read_during_the_run_is_a_warning(api: FakeApi) -> None:
    api.fail_next("GET", "/leases/", 403)
    ((status, message),) = _lines(api, "lease")
    assert status == "warn" and "403" in message


def test_an_api_server_lost_during_the_run_ends_it(api: FakeApi) -> None:
    api.fail_next("GET", "/leases/", 0)
    with pytest.raises(kubeapi.ApiError):
        _lines(api, "lease")


def test_webhooks_registered_for_another_revision_than_the_configuration_warn(
    api: FakeApi,
) -> None:
    assert [s for s, _m in _lines(api, "webhook-registered")] == ["pass"]
    lines = _lines(api, "webhook-registered", config=Config(revision="ours"))
    assert [s for s, _m in lines] == ["pass", "warn"]
    assert "revision and tags ours" in lines[1][1]
