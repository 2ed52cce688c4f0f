"""Overload and limits on the real server: concurrency, deadlines, draining, client certs,
and metric labels that stay bounded whatever the input."""

from __future__ import annotations

import datetime
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import support
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from support import http_cases, servers

from injector.certs import issuing

HEADERS = (
    b"POST /inject HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
)


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.Running]:
    config = "server: {reviewTimeoutSeconds: 1}\n"
    with servers.running(tmp_path_factory.mktemp("limited"), config) as instance:
        yield instance


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def test_bodies_sent_a_byte_at_a_time_do_not_turn_a_real_review_away(
    limited: servers.Running,
) -> None:
    stalled = [limited.tls_socket() for _ in range(64)]
    try:
        for sock in stalled:
            sock.sendall(HEADERS + b"{")  # one byte of the body, and no more
        with httpx.Client(verify=limited.client_context()) as client:
            response = client.post(f"{limited.url}/inject", content=http_cases.VALID,
                                   headers={"content-type": "application/json"})  # fmt: skip
        assert response.status_code == 200
        statuses = [_status(sock.recv(4096)) for sock in stalled]
    finally:
        for sock in stalled:
            sock.close()
    assert set(statuses) == {408}, "stalled bodies end at the review deadline"


def test_bodies_past_the_byte_budget_get_a_503(tmp_path: Path) -> None:
    config = "server: {maxBodyBytes: 1100, maxBufferedBodyBytes: 2048, reviewTimeoutSeconds: 2}\n"
    declared = HEADERS.replace(b"Content-Length: 100", b"Content-Length: 1000")
    with servers.running(tmp_path, config) as instance:
        stalled = [instance.tls_socket() for _ in range(2)]
        try:
            for sock in stalled:
                sock.sendall(declared)  # 2000 bytes reserved, none sent
            with httpx.Client(verify=instance.client_context()) as client:
                response = client.post(f"{instance.url}/inject", content=b"{" + b" " * 200 + b"}",
                                       headers={"content-type": "application/json"})  # fmt: skip
            assert response.status_code == 503
            assert response.headers["retry-after"] == "1"
            assert [_status(sock.recv(4096)) for sock in stalled] == [408, 408]
            with httpx.Client(verify=instance.client_context()) as client:
                response = client.post(f"{instance.url}/inject", content=http_cases.VALID,
                                       headers={"content-type": "application/json"})  # fmt: skip
            assert response.status_code == 200, "the budget is given back"
        finally:
            for sock in stalled:
                sock.close()


def test_after_the_stall_reviews_are_answered_again(limited: servers.Running) -> None:
    with httpx.Client(verify=limited.client_context()) as client:
        response = client.post(f"{limited.url}/inject", json=http_cases.load_fixture("create-pod"))
    assert response.status_code == 200


def test_the_api_servers_timeout_parameter_shortens_the_deadline(tmp_path: Path) -> None:
    with servers.running(tmp_path, "server: {reviewTimeoutSeconds: 30}\n") as instance:
        sock = instance.tls_socket()
        sock.sendall(HEADERS.replace(b"/inject", b"/inject?timeout=1s"))
        sock.settimeout(5)
        assert _status(sock.recv(4096)) == 408
        sock.close()


def test_draining_fails_readiness_and_closes_connections_but_still_answers(
    tmp_path: Path,
) -> None:
    with servers.running(tmp_path) as instance:
        with httpx.Client(verify=instance.client_context()) as client:
            assert client.get(f"{instance.url}/readyz").status_code == 200
            instance.server.state.draining = True
            assert client.get(f"{instance.url}/readyz").status_code == 503
            response = client.post(
                f"{instance.url}/inject", json=http_cases.load_fixture("create-pod")
            )
        assert response.status_code == 200
        assert response.headers["connection"] == "close"
        assert "patch" in response.json()["response"]


def _client_pair(directory: Path) -> tuple[Path, Path, Path]:
    """A client CA and a client certificate it signed (clientAuth), as files."""
    ca = issuing.new_ca(name="apiserver-client-ca")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    client = issuing.Issued(cert, key)
    directory.mkdir(parents=True, exist_ok=True)
    paths = directory / "client-ca.crt", directory / "client.crt", directory / "client.key"
    for path, data in zip(paths, (ca.cert_pem, client.cert_pem, client.key_pem), strict=True):
        path.write_bytes(data)
    return paths


def test_with_a_client_ca_only_clients_it_signed_get_reviews_and_probes_still_work(
    tmp_path: Path,
) -> None:
    client_ca, client_cert, client_key = _client_pair(tmp_path)
    review = {"content": http_cases.VALID, "headers": {"content-type": "application/json"}}
    with servers.running(tmp_path, client_ca=client_ca) as instance:
        anonymous = instance.client_context()
        answer = httpx.post(f"{instance.url}/inject", verify=anonymous, **review)  # type: ignore[arg-type]
        assert answer.status_code == 403
        # The kubelet's probes present no certificate.
        assert httpx.get(f"{instance.url}/readyz", verify=anonymous).status_code == 200
        identified = instance.client_context()
        identified.load_cert_chain(str(client_cert), str(client_key))
        answer = httpx.post(f"{instance.url}/inject", verify=identified, **review)  # type: ignore[arg-type]
        assert answer.status_code == 200


def test_with_a_client_ca_a_certificate_it_did_not_sign_is_refused(tmp_path: Path) -> None:
    client_ca, _cert, _key = _client_pair(tmp_path / "trusted")
    _ca, other_cert, other_key = _client_pair(tmp_path / "other")
    with servers.running(tmp_path, client_ca=client_ca) as instance:
        stranger = instance.client_context()
        stranger.load_cert_chain(str(other_cert), str(other_key))
        with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
            httpx.get(f"{instance.url}/healthz", verify=stranger, timeout=5)


def test_weak_cipher_suites_are_refused(tmp_path: Path) -> None:
    with servers.running(tmp_path) as instance:
        context = instance.client_context()
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers("AES128-SHA:AES256-SHA:DHE-RSA-AES128-SHA")
        with (
            socket.create_connection(("127.0.0.1", instance.port), timeout=5) as raw,
            pytest.raises(ssl.SSLError),
        ):
            context.wrap_socket(raw, server_hostname="127.0.0.1")
        context.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
        with socket.create_connection(("127.0.0.1", instance.port), timeout=5) as raw:
            context.wrap_socket(raw, server_hostname="127.0.0.1").close()


def test_metric_labels_stay_bounded_whatever_the_pods_say(tmp_path: Path) -> None:
    with (
        servers.running(tmp_path) as instance,
        httpx.Client(verify=instance.client_context()) as client,
    ):
        for index in range(50):
            pod = {
                "metadata": {
                    "name": f"pod-{index}",
                    "labels": {"sidecar.istio.io/inject": f"value-{index}"},
                    "annotations": {"sidecar.istio.io/proxyCPU": f"bad-{index}"},
                },
                "spec": {"containers": [{"name": f"c{index}", "image": "x"}]},
            }
            client.post(f"{instance.url}/inject", json=support.review(pod, namespace=f"ns-{index}"))
        text = client.get(f"{instance.url}/metrics").text
    series = [line for line in text.splitlines() if line.startswith("sidecar_injector_")]
    labels = [line.partition("{")[2].partition("}")[0] for line in series]
    assert not any(f"-{index}" in label for label in labels for index in range(50))
    assert any('result="denied"' in label for label in labels)
