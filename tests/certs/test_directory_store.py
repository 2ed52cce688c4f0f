"""Standalone certificates: the cert directory is the store and its ca.crt the published
bundle; what serve does with an empty, an existing or a damaged directory."""

from __future__ import annotations

import datetime
import threading
from pathlib import Path

from support import certs as certsupport
from support import servers

from injector.certs import authority, ca_material, directory_store, issuing, key_files, loops
from injector.certs.serving_cert import ServedCertificate
from injector.telemetry.metrics import Metrics

SETTINGS = authority.Settings(dns_names=("localhost",), ips=("127.0.0.1",))


def _keeper(directory: Path) -> tuple[directory_store.DirectoryKeeper, Metrics]:
    metrics = Metrics()
    return directory_store.DirectoryKeeper(directory, SETTINGS, metrics), metrics


def test_an_empty_directory_gets_a_ca_and_a_serving_certificate_with_private_keys(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "certs"
    keep, metrics = _keeper(directory)
    keep.tick()
    assert {p.name for p in directory.iterdir()} == {"ca.crt", "ca.key", "tls.crt", "tls.key"}
    for key in ("ca.key", "tls.key"):
        assert (directory / key).stat().st_mode & 0o777 == 0o600
    material = ca_material.from_files(directory_store.read_dir(directory))
    assert issuing.issued_by(material.leaf.cert, material.signer.cert)
    assert metrics.certificate_rotations.labels("ca")._value.get() == 1


def test_a_directory_with_good_material_is_kept_as_it_is(tmp_path: Path) -> None:
    key_files.ensure_dir(tmp_path, dns_names=["localhost"], ips=["127.0.0.1"])  # older layout
    before = directory_store.read_dir(tmp_path)
    keep, _ = _keeper(tmp_path)
    keep.tick()
    assert directory_store.read_dir(tmp_path) == before


def test_a_damaged_directory_is_counted_and_replaced(tmp_path: Path) -> None:
    keep, metrics = _keeper(tmp_path)
    keep.tick()
    key_files.write_atomic(tmp_path / "tls.key", b"-----BEGIN PRIVATE KEY-----\ngarbage\n")
    keep.tick()
    assert metrics.certificate_reload_failures.labels("directory")._value.get() == 1
    assert ca_material.from_files(directory_store.read_dir(tmp_path)).leaf is not None


def test_readiness_follows_the_ca_in_the_directory(tmp_path: Path) -> None:
    keep, metrics = _keeper(tmp_path)
    keep.tick()
    assert keep.material is not None
    leaf = keep.material.leaf
    keep.served = ServedCertificate.first(
        leaf.cert_pem, leaf.key_pem, scratch=tmp_path, metrics=metrics
    )
    keep.tick()
    assert keep.ready()
    keep.published = authority.Published().observe([issuing.new_ca().cert], issuing.now_utc())
    assert not keep.ready()


def test_a_restarted_server_keeps_its_ca_and_its_certificate(tmp_path: Path) -> None:
    with servers.running(tmp_path) as first:
        served = certsupport.presented(first.port)
        bundle = first.ca.read_bytes()
    with servers.running(tmp_path) as second:
        assert certsupport.presented(second.port) == served
        assert second.ca.read_bytes() == bundle


def test_stopping_the_server_stops_its_certificate_threads(tmp_path: Path) -> None:
    with servers.running(tmp_path):
        assert any(t.name == "certificates" for t in threading.enumerate())
    assert not any(t.name == "certificates" for t in threading.enumerate())


def test_the_loop_sleeps_until_the_next_decision_within_bounds() -> None:
    now = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
    assert loops.seconds_until(now + datetime.timedelta(seconds=2), now) == 2
    assert loops.seconds_until(now - datetime.timedelta(seconds=2), now) == 0.05
    assert loops.seconds_until(now + datetime.timedelta(days=2), now) == 10
    assert loops.seconds_until(None, now) == 10
