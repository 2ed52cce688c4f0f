"""External certificate files (`--tls-cert-file/--tls-key-file`, e.g. cert-manager):
watched and hot-reloaded by a real server; a half-written, mismatched, unreadable or
expired pair is refused and the old certificate keeps serving."""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from support import certs as certsupport
from support import servers
from support.certs import wait_until

from injector.certs import external_files, issuing, key_files, modes
from injector.certs.serving_cert import ServedCertificate
from injector.telemetry.metrics import Metrics

CA = issuing.new_ca()
QUICK = "certificates: {fileCheckInterval: 1s}\n"


def _pair(**kwargs: Any) -> issuing.Issued:
    return issuing.new_serving(CA, dns_names=["localhost"], ips=["127.0.0.1"], **kwargs)


def _mount(directory: Path, pair: issuing.Issued, *, ca: issuing.Issued = CA) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    key_files.write_atomic(directory / "ca.crt", ca.cert_pem)
    key_files.write_atomic(directory / "tls.key", pair.key_pem)
    key_files.write_atomic(directory / "tls.crt", pair.cert_pem)


def _failures(instance: servers.Running) -> float:
    metrics = instance.server.state.metrics
    return float(metrics.certificate_reload_failures.labels("files")._value.get())


@pytest.fixture
def mounted(tmp_path: Path) -> Iterator[tuple[Path, servers.Running]]:
    mount = tmp_path / "mounted"
    _mount(mount, _pair())
    flags = modes.Options(tls_cert_file=mount / "tls.crt", tls_key_file=mount / "tls.key")
    with servers.running(tmp_path, QUICK, certs=flags) as instance:
        yield mount, instance


def _serves(instance: servers.Running, pair: issuing.Issued) -> bool:
    return certsupport.presented(instance.port) == pair.cert


def test_the_mounted_files_are_served_and_nothing_is_issued(
    mounted: tuple[Path, servers.Running],
) -> None:
    mount, instance = mounted
    on_disk = x509.load_pem_x509_certificate((mount / "tls.crt").read_bytes())
    assert certsupport.presented(instance.port) == on_disk
    assert instance.server.state.ready()
    assert not (instance.ca.parent / "ca.key").exists()


def test_a_renewed_pair_is_served_without_a_restart(mounted: tuple[Path, servers.Running]) -> None:
    mount, instance = mounted
    renewed = _pair()
    _mount(mount, renewed)
    wait_until(lambda: _serves(instance, renewed), 10, "the renewed certificate")
    assert instance.server.state.ready()


def test_a_half_written_pair_is_refused_until_the_key_arrives(
    mounted: tuple[Path, servers.Running],
) -> None:
    mount, instance = mounted
    first = certsupport.presented(instance.port)
    renewed = _pair()
    key_files.write_atomic(mount / "tls.crt", renewed.cert_pem)  # the key is still the old one
    wait_until(lambda: _failures(instance) >= 1, 10, "the mismatched pair to be refused")
    assert certsupport.presented(instance.port) == first
    assert instance.server.state.ready()
    key_files.write_atomic(mount / "tls.key", renewed.key_pem)
    wait_until(lambda: _serves(instance, renewed), 10, "the completed pair")


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda p: p.cert_pem[: len(p.cert_pem) // 2], id="truncated-certificate"),
        pytest.param(lambda p: b"", id="empty-certificate"),
        pytest.param(
            lambda p: _pair(now=issuing.now_utc() - datetime.timedelta(days=3)).cert_pem,
            id="expired-certificate",
        ),
    ],
)
def test_an_unusable_certificate_file_is_refused_and_the_old_one_keeps_serving(
    mounted: tuple[Path, servers.Running], bad: Any
) -> None:
    mount, instance = mounted
    first = certsupport.presented(instance.port)
    replacement = _pair()
    key_files.write_atomic(mount / "tls.key", replacement.key_pem)
    key_files.write_atomic(mount / "tls.crt", bad(replacement))
    wait_until(lambda: _failures(instance) >= 1, 10, "the bad file to be refused")
    assert certsupport.presented(instance.port) == first
    _mount(mount, replacement)
    wait_until(lambda: _serves(instance, replacement), 10, "a good pair again")


def test_a_secret_volume_update_by_symlink_swap_is_picked_up(tmp_path: Path) -> None:
    """kubelet writes a new ..2030_xx directory and swaps the `..data` symlink to it."""
    mount = tmp_path / "secret"
    _mount(mount / "..v1", _pair())
    (mount / "..data").symlink_to("..v1")
    for name in ("tls.crt", "tls.key", "ca.crt"):
        (mount / name).symlink_to(f"..data/{name}")
    flags = modes.Options(tls_cert_file=mount / "tls.crt", tls_key_file=mount / "tls.key")
    with servers.running(tmp_path, QUICK, certs=flags) as instance:
        renewed = _pair()
        _mount(mount / "..v2", renewed)
        (mount / "..data_tmp").symlink_to("..v2")
        os.replace(mount / "..data_tmp", mount / "..data")
        wait_until(lambda: _serves(instance, renewed), 10, "the swapped certificate")


def test_the_periodic_hash_check_finds_a_change_no_event_announced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def silent(*_paths: Any, stop_event: Any, rust_timeout: int, **_: Any) -> Iterator[set[Any]]:
        while not stop_event.is_set():  # only timeouts: every event is missed
            time.sleep(rust_timeout / 1000)
            yield set()

    monkeypatch.setattr(external_files.watchfiles, "watch", silent)
    _mount(tmp_path, _pair())
    first = (tmp_path / "tls.crt").read_bytes(), (tmp_path / "tls.key").read_bytes()
    served = ServedCertificate.first(*first, scratch=tmp_path / "scratch", metrics=Metrics())
    files = external_files.CertificateFiles(
        tmp_path / "tls.crt", tmp_path / "tls.key", served, Metrics(), interval=0.2
    )
    files.start()
    try:
        renewed = _pair()
        _mount(tmp_path, renewed)
        wait_until(lambda: served.current == renewed.cert, 5, "the hash check")
    finally:
        files.stop()


def test_readiness_requires_the_served_certificate_to_chain_to_the_mounted_ca(
    tmp_path: Path,
) -> None:
    _mount(tmp_path, _pair())
    pem = (tmp_path / "tls.crt").read_bytes(), (tmp_path / "tls.key").read_bytes()
    metrics = Metrics()
    served = ServedCertificate.first(*pem, scratch=tmp_path / "scratch", metrics=metrics)
    files = external_files.CertificateFiles(
        tmp_path / "tls.crt", tmp_path / "tls.key", served, metrics
    )
    assert files.ready()
    key_files.write_atomic(tmp_path / "ca.crt", issuing.new_ca().cert_pem)  # another CA
    files.check()
    assert not files.ready()
