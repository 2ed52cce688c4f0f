"""The certificate flags: the keys `--help` names exist, the CA lifetime is one figure in
`--help`, the docs and the CA made, and a cert directory that cannot be written is named."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.cli import no_internals, run

from injector.certs import issuing, key_files


def test_serve_help_names_only_keys_that_exist(capsys: pytest.CaptureFixture[str]) -> None:
    _status, out, _err = run(capsys, "serve", "--help")
    text = " ".join(out.split())
    assert "modes." not in text
    assert "certificates.validity" in text
    assert "certificates.renewBefore" in text


def test_certs_generate_makes_a_ca_as_long_lived_as_help_and_docs_say(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _status, help_text, _err = run(capsys, "certs", "generate", "--help")
    assert "certificates.caValidity, 90d" in " ".join(help_text.split())
    status, _out, err = run(capsys, "certs", "generate", "--out", str(tmp_path / "c"))
    assert status == 0, err
    ca = issuing.load_certificates((tmp_path / "c" / "ca.crt").read_bytes())[0]
    lifetime = ca.not_valid_after_utc - ca.not_valid_before_utc
    assert 89 <= lifetime.days <= 91


def test_certs_generate_says_when_a_default_lifetime_is_in_play(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, _out, err = run(
        capsys, "certs", "generate", "--out", str(tmp_path / "c"), "--validity", "10000d"
    )
    assert status == 2
    assert "--validity 10000d must be shorter than the CA's 90d" in err
    assert "default" in err


def test_a_cert_dir_that_cannot_be_written_is_named_not_a_temporary_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert_dir = tmp_path / "certs"

    def refused(*, dir: Path, prefix: str, suffix: str) -> tuple[int, str]:
        # What a read-only directory answers (the tests run as root, who may write anyway).
        raise PermissionError(13, "Permission denied", f"{dir}/{prefix}x1y2{suffix}")

    monkeypatch.setattr(key_files.tempfile, "mkstemp", refused)
    status, _out, err = run(
        capsys, "certs", "generate", "--out", str(cert_dir), "--dns", "a.example"
    )
    no_internals(err)
    assert status == 2
    assert f"{cert_dir}: cannot write: Permission denied" in err


def test_certs_generate_says_when_it_replaces_a_ca_that_does_not_permit_the_names(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "c"
    status, _out, err = run(capsys, "certs", "generate", "--out", str(out), "--dns", "a.example")
    assert status == 0, err
    assert "new CA" not in err
    status, _out, err = run(capsys, "certs", "generate", "--out", str(out), "--dns", "b.other")
    assert status == 0, err
    assert f"the CA in {out} does not permit these names" in err
    assert f"clients must trust the new {out / 'ca.crt'}" in err
