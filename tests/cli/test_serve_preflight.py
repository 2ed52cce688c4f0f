"""`serve` checks every input (the client CA, the address and port) before it writes a
certificate or listens, and names the flag."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from support.cli import run
from support.servers import free_port


@pytest.mark.parametrize(
    ("make", "says"),
    [
        pytest.param("missing", "--client-ca-file {path}: no such file", id="missing"),
        pytest.param("directory", "--client-ca-file {path}: a directory", id="directory"),
        pytest.param("not-pem", "--client-ca-file {path}: not a PEM certificate file", id="pem"),
    ],
)
def test_serve_checks_the_client_ca_before_writing_anything(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, make: str, says: str
) -> None:
    path = tmp_path / "client-ca"
    if make == "directory":
        path.mkdir()
    elif make == "not-pem":
        path.write_text("not a certificate\n")
    cert_dir = tmp_path / "certs"
    status, _out, err = run(
        capsys, "serve", "--port", str(free_port()), "--cert-dir", str(cert_dir),
        "--client-ca-file", str(path),
    )  # fmt: skip
    assert status == 2
    assert says.format(path=path) in err
    assert "certificate and key" not in err
    assert not cert_dir.exists()


def test_serve_refuses_a_host_that_is_not_an_address_here(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cert_dir = tmp_path / "certs"
    status, _out, err = run(
        capsys, "serve", "--host", "999.1.1.1", "--port", str(free_port()),
        "--cert-dir", str(cert_dir),
    )  # fmt: skip
    assert status == 2
    assert "--host 999.1.1.1:" in err
    assert len(err.strip().splitlines()) == 1
    assert not cert_dir.exists()


def test_serve_refuses_a_port_in_use(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cert_dir = tmp_path / "certs"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status, _out, err = run(capsys, "serve", "--port", str(port), "--cert-dir", str(cert_dir))
    assert status == 2
    assert f"--port {port}: in use on 127.0.0.1" in err
    assert not cert_dir.exists()
