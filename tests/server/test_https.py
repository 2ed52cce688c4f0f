"""The webhook over real TLS: a real uvicorn on 127.0.0.1 with certificates it generated,
and clients that verify them."""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Iterator

import httpx
import pytest
from support import http_cases, servers


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.Running]:
    with servers.running(
        tmp_path_factory.mktemp("https"), "server: {maxBodyBytes: 262144}\n"
    ) as instance:
        yield instance


@pytest.fixture(scope="module")
def client(running: servers.Running) -> Iterator[httpx.Client]:
    context = ssl.create_default_context(cafile=str(running.ca))
    with httpx.Client(base_url=running.url, verify=context, timeout=10) as client:
        yield client


def test_the_generated_certificate_files_are_there_with_a_private_key_mode(
    running: servers.Running,
) -> None:
    directory = running.ca.parent
    assert {p.name for p in directory.iterdir()} >= {"ca.crt", "ca.key", "tls.crt", "tls.key"}
    assert (directory / "tls.key").stat().st_mode & 0o777 == 0o600
    assert (directory / "ca.key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("name", http_cases.fixture_params())
def test_fixture_over_https_is_answered_as_the_contract_says(
    client: httpx.Client, name: str
) -> None:
    response = client.post("/inject", json=http_cases.load_fixture(name))
    http_cases.check_answer(name, response.status_code, response.json())


@pytest.mark.parametrize(("body", "content_type", "status"), http_cases.BAD_CALLS)
def test_a_broken_call_over_https_gets_a_4xx(
    client: httpx.Client, body: bytes, content_type: str | None, status: int
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/inject", content=body, headers=headers)
    assert response.status_code == status
    assert "Traceback" not in response.text
    assert client.get("/healthz").status_code == 200


def test_the_certificate_verifies_for_localhost_too(running: servers.Running) -> None:
    context = ssl.create_default_context(cafile=str(running.ca))
    url = f"https://localhost:{running.port}/healthz"
    assert httpx.get(url, verify=context, timeout=10).status_code == 200


def test_a_client_that_does_not_trust_the_ca_is_refused(running: servers.Running) -> None:
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{running.url}/healthz", verify=ssl.create_default_context(), timeout=10)


def _handshake(running: servers.Running, highest: ssl.TLSVersion) -> str | None:
    """Connect with TLS versions up to `highest`; return the version agreed."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(str(running.ca))
    context.minimum_version = ssl.TLSVersion.TLSv1
    context.maximum_version = highest
    context.set_ciphers("ALL:@SECLEVEL=0")
    with (
        socket.create_connection(("127.0.0.1", running.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        return tls.version()


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
def test_tls_below_1_2_is_refused(running: servers.Running) -> None:
    assert _handshake(running, ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
    with pytest.raises(ssl.SSLError, match=r"PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|EOF"):
        _handshake(running, ssl.TLSVersion.TLSv1_1)


def test_keep_alive_outlasts_the_api_servers_idle_connections(running: servers.Running) -> None:
    assert running.config.timeout_keep_alive >= 90


def test_a_streamed_body_is_cut_off_at_the_limit_before_it_is_all_sent(
    running: servers.Running,
) -> None:
    context = ssl.create_default_context(cafile=str(running.ca))
    with (
        socket.create_connection(("127.0.0.1", running.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(
            b"POST /inject HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"x" * 8192
        # 512 KiB, twice the configured limit, and never the closing chunk: a server that
        # waited for the whole body would never answer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, ssl.SSLError):
            for _ in range(64):
                tls.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        tls.settimeout(10)
        answer = tls.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413")
