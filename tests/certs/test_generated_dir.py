"""Files the user wrote are never replaced while serving: `serve --cert-dir` refuses a
directory `certs generate` wrote, and a server already running stops renewing into one
that `certs generate` writes while it serves."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from support.cli import run
from support.servers import free_port

from injector.certs import authority, directory_store, serving_cert
from injector.server import process
from injector.telemetry.metrics import Metrics


def _digests(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in directory.iterdir()}


def test_serve_refuses_a_cert_dir_that_certs_generate_wrote(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    mine = tmp_path / "certs"
    status, _out, err = run(
        capsys, "certs", "generate", "--out", str(mine), "--dns", "localhost", "--ip", "127.0.0.1"
    )
    assert status == 0, err
    before = _digests(mine)
    with pytest.raises(serving_cert.Refused) as refused:
        process.build(process.Options(port=free_port(), cert_dir=mine), cluster=None)
    assert _digests(mine) == before
    assert f"--tls-cert-file {mine / 'tls.crt'}" in str(refused.value)
    assert "made by `certs generate`" in str(refused.value)


def test_a_running_server_does_not_renew_into_a_directory_certs_generate_wrote(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "certs"
    settings = authority.Settings(dns_names=("localhost",), ips=("127.0.0.1",))
    keeper = directory_store.DirectoryKeeper(directory, settings, Metrics())
    keeper.tick()
    keeper.tick()
    # The user now writes into it, with names the server's CA does not cover.
    directory_store.mark_generated(directory)
    before = _digests(directory)
    keeper.settings = authority.Settings(dns_names=("other.example",), ips=())
    keeper.tick()
    assert _digests(directory) == before


def test_the_documented_certs_generate_example_does_not_write_into_serves_directory() -> None:
    commands = (Path(__file__).resolve().parents[2] / "docs" / "commands.md").read_text()
    outs = re.findall(r"certs generate --out (\S+)", commands)
    assert outs
    assert "certs" not in outs  # serve's default --cert-dir, which `make run` uses
