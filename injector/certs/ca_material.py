"""The material the certificate authority keeps, and its layout as files or Secret keys.

`Material` is the CA bundle, the CA that signs, the serving certificate and, during a CA
rotation, the next CA and when the old CAs may go (`authority` decides what happens to
it). `to_files` and `from_files` turn it into the named byte strings that the cert
directory (`directory_store`) and the Secret (`cluster_store`) hold, and back. Pure: bytes
in and out, no files read or written here.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography import x509

from injector.certs import issuing

CA_FILE, CA_KEY_FILE, NEXT_CA_KEY_FILE = "ca.crt", "ca.key", "ca-next.key"
CERT_FILE, KEY_FILE, RETIRE_FILE = "tls.crt", "tls.key", "ca-retire-after"


@dataclass(frozen=True)
class Material:
    """Everything the issuer keeps (in the cert directory or the Secret)."""

    bundle: tuple[x509.Certificate, ...]  # every CA clients must trust, oldest first
    signer: issuing.Issued  # signs serving certificates; its certificate is in the bundle
    leaf: issuing.Issued  # the serving certificate
    pending: issuing.Issued | None = None  # the next CA: in the bundle, not signing yet
    retire_after: datetime.datetime | None = None  # old CAs may go from then on

    @property
    def bundle_pem(self) -> bytes:
        return issuing.pem_bundle(self.bundle)

    def old_cas(self) -> list[x509.Certificate]:
        current = {issuing.fingerprint(self.signer.cert)}
        if self.pending is not None:
            current.add(issuing.fingerprint(self.pending.cert))
        return [ca for ca in self.bundle if issuing.fingerprint(ca) not in current]


def to_files(m: Material) -> dict[str, bytes]:
    files = {
        CA_FILE: m.bundle_pem,
        CA_KEY_FILE: m.signer.key_pem,
        CERT_FILE: m.leaf.cert_pem,
        KEY_FILE: m.leaf.key_pem,
    }
    if m.pending is not None:
        files[NEXT_CA_KEY_FILE] = m.pending.key_pem
    if m.retire_after is not None:
        files[RETIRE_FILE] = m.retire_after.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    return files


def ca_for_key(bundle: list[x509.Certificate], key_pem: bytes) -> issuing.Issued:
    """The CA of `bundle` that `key_pem` belongs to, with that key."""
    for ca in bundle:
        try:
            return issuing.Issued.from_pem(issuing.pem_bundle([ca]), key_pem)
        except ValueError:
            continue
    raise ValueError("no CA in the bundle belongs to the CA key")


def from_files(files: Mapping[str, bytes]) -> Material:
    """Read material back; raises ValueError (or KeyError) when it is incomplete or broken."""
    bundle = issuing.load_certificates(files[CA_FILE])
    pending = None
    if NEXT_CA_KEY_FILE in files:
        pending = ca_for_key(bundle, files[NEXT_CA_KEY_FILE])
    retire = None
    if RETIRE_FILE in files:
        text = files[RETIRE_FILE].decode("ascii").strip()
        retire = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    leaf = issuing.Issued.from_pem(files[CERT_FILE], files[KEY_FILE])
    return Material(tuple(bundle), ca_for_key(bundle, files[CA_KEY_FILE]), leaf, pending, retire)
