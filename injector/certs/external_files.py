"""Serving certificate files that someone else renews (`--tls-cert-file/--tls-key-file`,
e.g. a cert-manager Certificate's Secret mounted as a volume): no self-issuing, only
watching and hot-reloading.

Kubelet updates a Secret volume by swapping a `..data` symlink, after which a watch on
the file itself goes silent (kubernetes#111947), so the *directories* are watched
(watchfiles), and the content is also hashed every `interval` seconds in case an event is
missed (as kopf does). A changed pair is served only if it loads into a new TLS context
(readable, key matches) and is valid now; a half-written or mismatched pair is logged,
counted (`certificate_reload_failures{source="files"}`) and ignored while the old
certificate keeps serving. The same content is judged once, not at every look.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path

import watchfiles
from cryptography import x509

from injector.certs import issuing
from injector.certs.loops import Clock
from injector.certs.serving_cert import ServedCertificate
from injector.telemetry.metrics import Metrics

log = logging.getLogger("injector.certificates")

CA_FILE = "ca.crt"  # cert-manager puts the issuing CA beside tls.crt


def read_pair(cert_file: Path, key_file: Path) -> tuple[bytes, bytes]:
    return cert_file.read_bytes(), key_file.read_bytes()


class CertificateFiles:
    """Watches a certificate and key file pair and serves each good new version."""

    def __init__(
        self,
        cert_file: Path,
        key_file: Path,
        served: ServedCertificate,
        metrics: Metrics,
        *,
        interval: float = 10.0,
        clock: Clock = issuing.now_utc,
    ) -> None:
        self.cert_file, self.key_file, self.served = cert_file, key_file, served
        self.metrics, self.interval, self.clock = metrics, interval, clock
        self._seen: bytes | None = None  # digest of the last content judged
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ca_file = cert_file.parent / CA_FILE
        self._roots: list[x509.Certificate] | None = None  # None: no ca.crt beside
        self._chain: list[x509.Certificate] = []
        self.check()

    def check(self) -> bool:
        """Serve the files if their content changed and is good; True when served."""
        try:
            cert_pem, key_pem = read_pair(self.cert_file, self.key_file)
            ca_pem = self._ca_file.read_bytes() if self._ca_file.exists() else b""
        except OSError as err:
            return self._refuse(hashlib.sha256(str(err).encode()).digest(), err)
        digest = hashlib.sha256(b"\0".join([cert_pem, key_pem, ca_pem])).digest()
        if digest == self._seen:
            return False
        self._seen = digest
        if not self.served.serve(cert_pem, key_pem, source="files"):
            return False
        self._chain = issuing.load_certificates(cert_pem)[1:]
        try:
            self._roots = issuing.load_certificates(ca_pem) if ca_pem else None
        except ValueError:
            self._roots = []  # an unreadable ca.crt trusts nothing: not ready
        return True

    def _refuse(self, digest: bytes, err: OSError) -> bool:
        if digest != self._seen:
            self._seen = digest
            self.metrics.certificate_reload_failures.labels("files").inc()
            log.warning("certificate files unreadable; the current one keeps serving: %s", err)
        return False

    def ready(self) -> bool:
        """The served certificate is valid now, and chains to the ca.crt beside the
        certificate file when there is one."""
        now, current = self.clock(), self.served.current
        if self._roots is None:
            return issuing.valid_at(current, now)
        return issuing.chains_to(current, self._roots, intermediates=self._chain, now=now)

    def _directories(self) -> list[Path]:
        return list(dict.fromkeys([self.cert_file.parent, self.key_file.parent]))

    def run(self) -> None:
        """Watch until stopped; each change, and each `interval`, leads to a check."""
        while not self._stop.is_set():
            try:
                for _changes in watchfiles.watch(
                    *self._directories(),
                    watch_filter=None,
                    debounce=200,
                    stop_event=self._stop,
                    rust_timeout=int(self.interval * 1000),
                    yield_on_timeout=True,
                    recursive=False,
                ):
                    self.check()
            except Exception as err:  # the directory went away: poll until it is back
                log.warning("cannot watch the certificate directory: %s", err)
                self._stop.wait(self.interval)
                self.check()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="certificate-files", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
