"""The injector's own CA and serving certificates (ECDSA P-256), made with `cryptography`.

Issuing is separate from serving (`tls`) and from storage, so the same functions serve
the local cert directory, a later rotation loop and `certs generate`.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_FILE, CA_KEY_FILE = "ca.crt", "ca.key"
CERT_FILE, KEY_FILE = "tls.crt", "tls.key"
CA_VALIDITY = datetime.timedelta(days=3650)
SERVING_VALIDITY = datetime.timedelta(hours=24)
# Tolerate clocks that are a little behind ours.
BACKDATE = datetime.timedelta(minutes=1)


@dataclass(frozen=True)
class Issued:
    """A certificate with its private key."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _builder(
    subject: str,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    validity: datetime.timedelta,
) -> x509.CertificateBuilder:
    now = _now()
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + validity)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def new_ca(
    *, name: str = "sidecar-injector-ca", validity: datetime.timedelta = CA_VALIDITY
) -> Issued:
    """A self-signed CA that may only sign end-entity certificates."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        _builder(name, subject, key.public_key(), validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return Issued(cert, key)


def new_serving(
    ca: Issued,
    *,
    dns_names: Sequence[str],
    ips: Sequence[str] = (),
    validity: datetime.timedelta = SERVING_VALIDITY,
) -> Issued:
    """A serving certificate signed by `ca`. Identity is in the SANs (never the CN alone:
    kube-apiserver ignores the CN), and it never outlives its CA."""
    if not dns_names and not ips:
        raise ValueError("a serving certificate needs at least one DNS name or IP")
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    common_name = dns_names[0] if dns_names else ips[0]
    validity = min(validity, ca.cert.not_valid_after_utc - _now())
    cert = (
        _builder(common_name, ca.cert.subject, key.public_key(), validity)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=False,
                crl_sign=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )
    return Issued(cert, key)


def service_names(service: str, namespace: str) -> list[str]:
    """The DNS names kube-apiserver may use to reach a Service-backed webhook."""
    return [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
    ]


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write a file so readers see the old or the new content, never half of it."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def ensure_dir(directory: Path, *, dns_names: Sequence[str], ips: Sequence[str]) -> bool:
    """Make `ca.crt`, `ca.key`, `tls.crt` and `tls.key` in `directory` unless a serving
    pair is there already. Returns True when new files were written.

    Keys are written with mode 0600. The CA key is kept so that the serving certificate
    can be renewed later without changing the CA that clients trust.
    """
    cert, key = directory / CERT_FILE, directory / KEY_FILE
    if cert.exists() and key.exists():
        return False
    directory.mkdir(parents=True, exist_ok=True)
    ca = new_ca()
    serving = new_serving(ca, dns_names=dns_names, ips=ips)
    write_atomic(directory / CA_KEY_FILE, ca.key_pem, mode=0o600)
    write_atomic(directory / CA_FILE, ca.cert_pem)
    write_atomic(key, serving.key_pem, mode=0o600)
    write_atomic(cert, serving.cert_pem)
    return True
