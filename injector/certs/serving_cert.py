"""The certificate this replica serves, whatever produced it (our CA, the Secret shared by
the replicas, or files mounted by cert-manager).

`ServedCertificate.serve` is the one way a new pair reaches the running TLS context: it
is checked (readable, key matches, valid now) by loading it into a new context, and a
refused pair is logged and counted while the old one keeps serving. It keeps the expiry
metric, counts rotations and logs each with the serial and expiry (never key material).
"""

from __future__ import annotations

import datetime
import logging
import ssl
import threading
from pathlib import Path

from cryptography import x509

from injector.certs import issuing
from injector.certs.tls_context import ServingTLS
from injector.telemetry.metrics import Metrics

log = logging.getLogger("injector.certificates")


class Refused(ValueError):
    """A certificate and key that must not be served; the message says why."""


def check_pair(cert_pem: bytes, now: datetime.datetime) -> x509.Certificate:
    """The first (leaf) certificate of `cert_pem` if it can be served at `now`."""
    try:
        leaf = issuing.load_certificates(cert_pem)[0]
    except ValueError as err:
        raise Refused(f"the certificate is unreadable: {err}") from None
    if not issuing.valid_at(leaf, now):
        raise Refused(
            f"the certificate is valid from {leaf.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ}"
            f" to {leaf.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}, not now"
        )
    return leaf


def describe(cert: x509.Certificate) -> dict[str, str]:
    """What a log line says about a certificate: never anything secret."""
    return {
        "serial": issuing.serial_hex(cert),
        "not_after": f"{cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}",
        "issuer": cert.issuer.rfc4514_string(),
    }


class ServedCertificate:
    """What is served, and the only door through which that changes."""

    def __init__(
        self,
        tls: ServingTLS,
        served: x509.Certificate,
        *,
        scratch: Path,
        metrics: Metrics,
    ) -> None:
        self.tls, self._served, self._scratch, self._metrics = tls, served, scratch, metrics
        self._lock = threading.Lock()
        metrics.certificate_expiry.set(served.not_valid_after_utc.timestamp())

    @classmethod
    def first(
        cls,
        cert_pem: bytes,
        key_pem: bytes,
        *,
        scratch: Path,
        metrics: Metrics,
        client_ca_file: Path | None = None,
    ) -> ServedCertificate:
        """Start serving a pair; raises Refused (or OSError for the scratch directory)
        when it is bad, since there is nothing else to serve yet."""
        leaf = check_pair(cert_pem, issuing.now_utc())
        try:
            tls = ServingTLS.from_pem(
                cert_pem, key_pem, scratch=scratch, client_ca_file=client_ca_file
            )
        except ssl.SSLError as err:
            raise Refused(f"the certificate and key do not load together: {err}") from None
        return cls(tls, leaf, scratch=scratch, metrics=metrics)

    @property
    def current(self) -> x509.Certificate:
        return self._served

    def serve(self, cert_pem: bytes, key_pem: bytes, *, source: str) -> bool:
        """Serve the pair from the next handshake on; False (logged, counted) when it is
        refused. Serving the certificate already served is a no-op."""
        with self._lock:
            try:
                leaf = check_pair(cert_pem, issuing.now_utc())
                if leaf == self._served:
                    return True
                self.tls.reload_pem(cert_pem, key_pem, self._scratch)
            except (Refused, ssl.SSLError, OSError) as err:
                self._metrics.certificate_reload_failures.labels(source).inc()
                log.warning(
                    "refused a new serving certificate; the current one keeps serving: %s",
                    err,
                    extra={"source": source, **describe(self._served)},
                )
                return False
            previous, self._served = self._served, leaf
        self._metrics.certificate_expiry.set(leaf.not_valid_after_utc.timestamp())
        self._metrics.certificate_rotations.labels("serving").inc()
        log.info(
            "serving certificate rotated: serial %s, expires %s",
            issuing.serial_hex(leaf),
            describe(leaf)["not_after"],
            extra={
                "source": source,
                "previous_serial": issuing.serial_hex(previous),
                **describe(leaf),
            },
        )
        return True
