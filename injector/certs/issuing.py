"""The injector's own CA and serving certificates (ECDSA P-256), made with `cryptography`,
and the few X.509 questions the rest of the code asks about them (who issued this, how
long does it live, does this key belong to it).

Issuing is separate from serving (`tls_context`), from the decisions of when to issue
(`authority`) and from storage (`key_files`, `directory_store`, `cluster_store`), so the
same functions serve the cert directory, the rotation loops and `certs generate`. Every
function that reads the clock takes `now`, so tests can issue certificates for any moment.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from injector.certs import name_constraints

# Rotation overlaps the old and the new CA (authority.py), so a short life costs nothing
# but a rotation every 60 days; it bounds how long a copied CA key is of any use.
CA_VALIDITY = datetime.timedelta(days=90)
SERVING_VALIDITY = datetime.timedelta(hours=24)
# Tolerate clocks that are a little behind ours. Lifetimes (and so renewal times) are
# counted from the moment of issue, i.e. without this margin (see `lifetime`).
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

    @classmethod
    def from_pem(cls, cert_pem: bytes, key_pem: bytes) -> Issued:
        """Load one of our pairs; raises ValueError when either part is unreadable, the key
        is not an EC key, or the key does not belong to the certificate."""
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the private key is not an EC key")
        if not key_matches(cert, key):
            raise ValueError("the private key does not belong to the certificate")
        return cls(cert, key)


def now_utc() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _builder(
    subject: str,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    validity: datetime.timedelta,
    now: datetime.datetime,
) -> x509.CertificateBuilder:
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


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    """Signatures only; a CA also signs certificates and CRLs."""
    return x509.KeyUsage(
        digital_signature=True,
        key_cert_sign=ca,
        crl_sign=ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        encipher_only=False,
        decipher_only=False,
    )


def new_ca(
    *,
    name: str = "sidecar-injector-ca",
    validity: datetime.timedelta = CA_VALIDITY,
    now: datetime.datetime | None = None,
    dns_names: Sequence[str] = (),
    ips: Sequence[str] = (),
) -> Issued:
    """A self-signed CA that may only sign end-entity certificates, and, when names are
    given, only for those names (X.509 NameConstraints, critical: a verifier that does
    not understand them must refuse the chain).

    Its name carries the moment of issue (`name@<unix seconds>`, as Kubernetes names its
    self-signed certificates): while an old and a new CA are trusted side by side, each
    has a name of its own and a verifier never has to guess which one issued a chain.
    """
    now = now or now_utc()
    key = ec.generate_private_key(ec.SECP256R1())
    unique = f"{name}@{int(now.timestamp())}"
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, unique)])
    builder = (
        _builder(unique, subject, key.public_key(), validity, now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
    )
    if dns_names or ips:
        constraints = name_constraints.for_names(dns_names, ips)
        builder = builder.add_extension(constraints, critical=True)
    return Issued(builder.sign(key, hashes.SHA256()), key)


def new_serving(
    ca: Issued,
    *,
    dns_names: Sequence[str],
    ips: Sequence[str] = (),
    validity: datetime.timedelta = SERVING_VALIDITY,
    now: datetime.datetime | None = None,
) -> Issued:
    """A serving certificate signed by `ca`. Identity is in the SANs (never the CN alone:
    kube-apiserver ignores the CN), and it never outlives its CA."""
    now = now or now_utc()
    if not dns_names and not ips:
        raise ValueError("a serving certificate needs at least one DNS name or IP")
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    common_name = dns_names[0] if dns_names else ips[0]
    validity = min(validity, ca.cert.not_valid_after_utc - now)
    cert = (
        _builder(common_name, ca.cert.subject, key.public_key(), validity, now)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )
    return Issued(cert, key)


def load_certificates(pem: bytes) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle, in order; raises ValueError when there is none or
    one is unreadable."""
    return list(x509.load_pem_x509_certificates(pem))


def pem_bundle(cas: Iterable[x509.Certificate]) -> bytes:
    return b"".join(ca.public_bytes(serialization.Encoding.PEM) for ca in cas)


def fingerprint(cert: x509.Certificate) -> bytes:
    """SHA-256 of the DER form: the identity of a certificate."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()


def serial_hex(cert: x509.Certificate) -> str:
    return f"{cert.serial_number:x}"


def key_matches(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> bool:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    ours = key.public_key().public_bytes(serialization.Encoding.DER, spki)
    return ours == cert.public_key().public_bytes(serialization.Encoding.DER, spki)


def issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    """True when `ca`'s key signed `cert` (names and signature; no time check)."""
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def chains_to(
    cert: x509.Certificate,
    roots: Sequence[x509.Certificate],
    *,
    intermediates: Sequence[x509.Certificate] = (),
    now: datetime.datetime,
) -> bool:
    """`cert` is valid now and leads, through valid `intermediates`, to one of `roots`
    (names and signatures, as a TLS client checks them; host names are not checked)."""
    for _ in range(len(intermediates) + 1):
        if not valid_at(cert, now):
            return False
        if any(valid_at(root, now) and issued_by(cert, root) for root in roots):
            return True
        parents = [ca for ca in intermediates if ca != cert and issued_by(cert, ca)]
        if not parents:
            return False
        cert = parents[0]
    return False


def valid_at(cert: x509.Certificate, now: datetime.datetime) -> bool:
    return cert.not_valid_before_utc <= now < cert.not_valid_after_utc


def lifetime(cert: x509.Certificate) -> tuple[datetime.datetime, datetime.datetime]:
    """When the certificate was issued and when it expires. Ours are backdated by
    BACKDATE for clock skew; that margin is not part of the lifetime that renewal is
    measured against (else a 3 s certificate would "live" 63 s)."""
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    if end - start > BACKDATE:
        start += BACKDATE
    return start, end


def service_names(service: str, namespace: str) -> list[str]:
    """The DNS names kube-apiserver may use to reach a Service-backed webhook."""
    return [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
    ]
