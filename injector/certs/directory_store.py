"""Keeping the serving certificate fresh without a cluster: the cert directory is the
store and the CA bundle file in it (`ca.crt`) is what is published.

`DirectoryKeeper` is the standalone loop: each tick reads the directory, takes one
`authority` step, writes the result back (the bundle before the keys and certificate that
need it) and serves the new certificate.
"""

from __future__ import annotations

import logging
from pathlib import Path

from injector.certs import authority, ca_material, issuing, key_files
from injector.certs.loops import MIN_SLEEP_SECONDS, Clock, Loop, seconds_until
from injector.certs.serving_cert import Refused, ServedCertificate
from injector.core import config
from injector.telemetry.metrics import Metrics

log = logging.getLogger("injector.certificates")

# Written first, so a reader never sees a certificate that its bundle does not trust.
_WRITE_ORDER = (
    ca_material.CA_FILE,
    ca_material.NEXT_CA_KEY_FILE,
    ca_material.CA_KEY_FILE,
    ca_material.RETIRE_FILE,
    ca_material.KEY_FILE,
    ca_material.CERT_FILE,
)
_PRIVATE = {ca_material.CA_KEY_FILE, ca_material.NEXT_CA_KEY_FILE, ca_material.KEY_FILE}


def check_ours(directory: Path, *, flag: str) -> None:
    """Refuse a cert directory we must not write into: a regular file (ConfigError), or
    a directory holding someone's own tls.crt/tls.key with no ca.crt of ours beside
    them (Refused), which issuing would silently replace."""
    if directory.exists() and not directory.is_dir():
        raise config.ConfigError(f"{flag} {directory}: not a directory")
    theirs = [n for n in (ca_material.CERT_FILE, ca_material.KEY_FILE) if (directory / n).exists()]
    if theirs and not (directory / ca_material.CA_FILE).exists():
        cert, key = directory / ca_material.CERT_FILE, directory / ca_material.KEY_FILE
        raise Refused(
            f"{flag} {directory} holds {' and '.join(theirs)} but no {ca_material.CA_FILE}:"
            " they were not made here and are not replaced. To serve them, pass"
            f" --tls-cert-file {cert} --tls-key-file {key}; to have certificates made,"
            f" give {flag} an empty or new directory"
        )


# Left by `certs generate` beside what it wrote: the files are the user's, and `serve`
# never replaces them (it refuses the directory; a running server stops renewing in it).
GENERATED_MARK = "MADE-BY-CERTS-GENERATE"
_MARK_TEXT = (
    "The certificates in this directory were made by `sidecar-injector certs generate`.\n"
    "`serve --cert-dir` does not use or replace them; serve them with --tls-cert-file and\n"
    "--tls-key-file, or give serve a directory of its own.\n"
)


def mark_generated(directory: Path) -> None:
    key_files.write_atomic(directory / GENERATED_MARK, _MARK_TEXT.encode())


def made_by_generate(directory: Path) -> bool:
    return (directory / GENERATED_MARK).exists()


def check_not_generated(directory: Path, *, flag: str) -> None:
    """Refuse to serve from (and so to renew into) a directory `certs generate` wrote."""
    if made_by_generate(directory):
        cert, key = directory / ca_material.CERT_FILE, directory / ca_material.KEY_FILE
        raise Refused(
            f"{flag} {directory} holds certificates made by `certs generate`: serve does not"
            f" replace them. To serve them, pass --tls-cert-file {cert} --tls-key-file {key};"
            f" to have serve make and renew its own, give {flag} an empty or new directory"
        )


def read_dir(directory: Path) -> dict[str, bytes]:
    files = {}
    for name in _WRITE_ORDER:
        path = directory / name
        if path.exists():
            files[name] = path.read_bytes()
    return files


def write_dir(directory: Path, material: ca_material.Material) -> None:
    """Write the material, bundle first; remove what it no longer has."""
    key_files.private_dir(directory)
    files = ca_material.to_files(material)
    for name in _WRITE_ORDER:
        path = directory / name
        if name in files:
            key_files.write_atomic(path, files[name], mode=0o600 if name in _PRIVATE else 0o644)
        else:
            path.unlink(missing_ok=True)


class DirectoryKeeper:
    """Standalone: issues, rotates and serves from the cert directory."""

    def __init__(
        self,
        directory: Path,
        settings: authority.Settings,
        metrics: Metrics,
        *,
        clock: Clock = issuing.now_utc,
    ) -> None:
        self.directory, self.settings, self.metrics, self.clock = (
            directory,
            settings,
            metrics,
            clock,
        )
        self.published = authority.Published()
        self.material: ca_material.Material | None = None
        self.served: ServedCertificate | None = None
        self.loop = Loop("certificates", self.tick)

    def _load(self) -> ca_material.Material | None:
        files = read_dir(self.directory)
        if not files:
            return None
        try:
            return ca_material.from_files(files)
        except (ValueError, KeyError) as err:
            self.metrics.certificate_reload_failures.labels("directory").inc()
            log.warning(
                "the cert directory holds no usable material; issuing anew: %s",
                err,
                extra={"dir": str(self.directory)},
            )
            return None

    def tick(self) -> float:
        """One decision: read, step, write, serve; returns seconds until the next one."""
        now = self.clock()
        material = self._load()
        self.published = self.published.observe(material.bundle if material else (), now)
        chosen, material = authority.step(
            material, now=now, settings=self.settings, published=self.published
        )
        if chosen is not authority.Step.KEEP and made_by_generate(self.directory):
            # `certs generate` wrote here while we served: the files are the user's now.
            log.error(
                "certs generate wrote into the cert directory: not renewing there; the"
                " current certificate is served until it expires",
                extra={"dir": str(self.directory)},
            )
            return 3600.0
        self.material = material
        if chosen is not authority.Step.KEEP:
            write_dir(self.directory, material)
            note_step(chosen, material, self.metrics)
        if self.served is not None:
            self.served.serve(material.leaf.cert_pem, material.leaf.key_pem, source="directory")
        if chosen is not authority.Step.KEEP:  # read back what was written, at once
            return MIN_SLEEP_SECONDS
        wake = authority.next_decision(material, settings=self.settings, published=self.published)
        return seconds_until(wake, self.clock())

    def ready(self) -> bool:
        """The served certificate chains to the CA bundle in the cert directory."""
        served = self.served
        return served is not None and self.published.trusts(served.current, self.clock())


def note_step(chosen: authority.Step, material: ca_material.Material, metrics: Metrics) -> None:
    """Log (and count) what the issuer just did."""
    if chosen in (authority.Step.START, authority.Step.NEW_CA):
        metrics.certificate_rotations.labels("ca").inc()
    # A renewal is logged again, with serial and expiry, when it is served.
    level = logging.DEBUG if chosen is authority.Step.RENEW else logging.INFO
    log.log(
        level,
        "certificate authority step: %s",
        chosen.value,
        extra={
            "step": chosen.value,
            "cas": len(material.bundle),
            "signer": material.signer.cert.subject.rfc4514_string(),
            "leaf_serial": issuing.serial_hex(material.leaf.cert),
        },
    )
