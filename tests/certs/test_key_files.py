"""Keys on disk: written once, atomically, never through a planted file, and only into a
directory that no one else can write to."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509

from injector.certs import key_files


def test_ensure_dir_writes_once_and_keeps_keys_private(tmp_path: Path) -> None:
    assert key_files.ensure_dir(tmp_path, dns_names=["localhost"], ips=["127.0.0.1"]) is True
    first = (tmp_path / "tls.crt").read_bytes()
    for key in ("tls.key", "ca.key"):
        assert (tmp_path / key).stat().st_mode & 0o777 == 0o600
    assert key_files.ensure_dir(tmp_path, dns_names=["localhost"], ips=["127.0.0.1"]) is False
    assert (tmp_path / "tls.crt").read_bytes() == first
    serving = x509.load_pem_x509_certificate(first)
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.crt").read_bytes())
    serving.verify_directly_issued_by(ca)


@pytest.mark.parametrize(
    "planted",
    [
        pytest.param("symlink", id="symlink-to-a-file-of-the-attacker"),
        pytest.param("file", id="world-readable-file-kept-open-by-the-attacker"),
    ],
)
def test_a_planted_temporary_file_never_receives_the_key(tmp_path: Path, planted: str) -> None:
    # The name the writer once used for its temporary file, planted by another user.
    target, decoy = tmp_path / "ca.key", tmp_path / ".ca.key.tmp"
    trap = tmp_path / "attacker-reads-this"
    trap.write_bytes(b"")
    if planted == "symlink":
        decoy.symlink_to(trap)
    else:
        decoy.write_bytes(b"")
        decoy.chmod(0o666)
    key_files.write_atomic(target, b"SECRET KEY", mode=0o600)
    assert trap.read_bytes() == b""
    assert decoy.read_bytes() == b""
    assert target.read_bytes() == b"SECRET KEY"
    assert target.stat().st_mode & 0o777 == 0o600
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp"))
    assert leftovers == [".ca.key.tmp"]


def test_a_new_cert_directory_is_created_private(tmp_path: Path) -> None:
    directory = tmp_path / "made" / "certs"
    key_files.ensure_dir(directory, dns_names=["localhost"], ips=[])
    assert directory.stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize(
    "mode",
    [
        pytest.param(0o777, id="world-writable"),
        pytest.param(0o770, id="group-writable"),
        pytest.param(0o1777, id="sticky-like-tmp"),
        pytest.param(0o722, id="writable-by-all-but-readable-by-owner-only"),
    ],
)
def test_a_cert_directory_others_can_write_to_is_refused(tmp_path: Path, mode: int) -> None:
    directory = tmp_path / "shared"
    directory.mkdir()
    directory.chmod(mode)
    with pytest.raises(PermissionError, match="writable by its group or others") as raised:
        key_files.ensure_dir(directory, dns_names=["localhost"], ips=[])
    assert raised.value.filename == str(directory)
    assert list(directory.iterdir()) == []
