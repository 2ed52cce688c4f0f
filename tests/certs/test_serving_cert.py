"""The one door through which the served certificate changes: checked before use,
counted, logged with serial and expiry (never key material), keys left on no disk."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

import pytest

from injector.certs import issuing, tls_context
from injector.certs.serving_cert import ServedCertificate
from injector.telemetry.metrics import Metrics

CA = issuing.new_ca()


def _pair() -> issuing.Issued:
    return issuing.new_serving(CA, dns_names=["localhost"], ips=["127.0.0.1"])


def _served(tmp_path: Path) -> tuple[ServedCertificate, Metrics, issuing.Issued]:
    first, metrics = _pair(), Metrics()
    served = ServedCertificate.first(
        first.cert_pem, first.key_pem, scratch=tmp_path, metrics=metrics
    )
    return served, metrics, first


def test_a_rotation_is_logged_with_serial_and_expiry_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    served, metrics, _ = _served(tmp_path)
    renewed = _pair()
    with caplog.at_level(logging.INFO, logger="injector.certificates"):
        assert served.serve(renewed.cert_pem, renewed.key_pem, source="directory")
    (record,) = [r for r in caplog.records if "rotated" in r.getMessage()]
    assert issuing.serial_hex(renewed.cert) in record.getMessage()
    assert f"{renewed.cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}" in record.getMessage()
    assert record.serial == issuing.serial_hex(renewed.cert)  # type: ignore[attr-defined]
    assert metrics.certificate_rotations.labels("serving")._value.get() == 1
    expiry = metrics.certificate_expiry._value.get()
    assert expiry == renewed.cert.not_valid_after_utc.timestamp()
    assert served.current == renewed.cert


def test_a_mismatched_pair_is_refused_counted_and_logged_without_key_material(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    served, metrics, first = _served(tmp_path)
    one, two = _pair(), _pair()
    with caplog.at_level(logging.INFO, logger="injector.certificates"):
        assert not served.serve(one.cert_pem, two.key_pem, source="files")
    assert served.current == first.cert
    assert metrics.certificate_reload_failures.labels("files")._value.get() == 1
    assert metrics.certificate_rotations.labels("serving")._value.get() == 0
    logged = caplog.text + str([r.__dict__ for r in caplog.records])
    assert "refused" in logged
    assert "PRIVATE KEY" not in logged and two.key_pem.decode()[40:80] not in logged


def test_serving_the_certificate_already_served_changes_nothing(tmp_path: Path) -> None:
    served, metrics, first = _served(tmp_path)
    assert served.serve(first.cert_pem, first.key_pem, source="secret")
    assert metrics.certificate_rotations.labels("serving")._value.get() == 0


def test_no_key_is_left_on_disk_after_loading_a_pair_held_in_memory(tmp_path: Path) -> None:
    served, _, _ = _served(tmp_path)
    renewed = _pair()
    served.serve(renewed.cert_pem, renewed.key_pem, source="secret")
    assert list(tmp_path.iterdir()) == []


def test_a_context_from_a_bad_pair_raises_instead_of_half_loading(tmp_path: Path) -> None:
    one, two = _pair(), _pair()
    with pytest.raises(ssl.SSLError):
        tls_context.context_from_pem(one.cert_pem, two.key_pem, tmp_path)
    assert list(tmp_path.iterdir()) == []
