"""Certificates: identity in SANs, chains to the CA, keys kept private."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import ssl
from pathlib import Path

import pytest
from cryptography import x509

from injector.certs import issuing, name_constraints


@pytest.fixture(scope="module")
def ca() -> issuing.Issued:
    return issuing.new_ca()


def test_the_serving_certificate_names_the_service_in_its_sans(ca: issuing.Issued) -> None:
    names = issuing.service_names("sidecar-injector", "mesh")
    serving = issuing.new_serving(ca, dns_names=names, ips=["127.0.0.1"])
    sans = serving.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == [
        "sidecar-injector",
        "sidecar-injector.mesh",
        "sidecar-injector.mesh.svc",
        "sidecar-injector.mesh.svc.cluster.local",
    ]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]


def test_the_serving_certificate_is_issued_by_the_ca(ca: issuing.Issued) -> None:
    serving = issuing.new_serving(ca, dns_names=["a.b.svc"])
    serving.cert.verify_directly_issued_by(ca.cert)
    other = issuing.new_ca()
    with pytest.raises((ValueError, TypeError, Exception)):
        serving.cert.verify_directly_issued_by(other.cert)


def test_the_serving_certificate_is_for_servers_only(ca: issuing.Issued) -> None:
    serving = issuing.new_serving(ca, dns_names=["a.b.svc"])
    constraints = serving.cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    usage = serving.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert constraints.ca is False
    assert list(usage) == [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]


def test_a_serving_certificate_never_outlives_its_ca() -> None:
    short_ca = issuing.new_ca(validity=datetime.timedelta(hours=1))
    serving = issuing.new_serving(short_ca, dns_names=["a"], validity=datetime.timedelta(days=9))
    assert serving.cert.not_valid_after_utc <= short_ca.cert.not_valid_after_utc


def test_a_certificate_without_any_name_is_refused(ca: issuing.Issued) -> None:
    with pytest.raises(ValueError, match="DNS name or IP"):
        issuing.new_serving(ca, dns_names=[], ips=[])


def _handshake(ca: issuing.Issued, leaf: issuing.Issued, hostname: str, tmp: Path) -> None:
    """A TLS handshake in memory: Python's ssl (OpenSSL) client verifying `leaf`."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    pair = tmp / "pair.pem"
    pair.write_bytes(leaf.cert_pem + leaf.key_pem)
    server_ctx.load_cert_chain(pair)
    client_ctx = ssl.create_default_context(cadata=ca.cert_pem.decode())
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=hostname)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(10):
        for side, into, out_of in ((client, s_in, c_out), (server, c_in, s_out)):
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
            into.write(out_of.read())
        if client.version() and server.version():
            return
    raise AssertionError("the handshake did not finish")


SERVICE = "sidecar-injector.sidecar-injector.svc"


def test_a_name_constrained_ca_is_trusted_for_its_own_names(tmp_path: Path) -> None:
    ca = issuing.new_ca(dns_names=[SERVICE, "localhost"], ips=["127.0.0.1"])
    leaf = issuing.new_serving(ca, dns_names=[SERVICE, "localhost"], ips=["127.0.0.1"])
    _handshake(ca, leaf, SERVICE, tmp_path)
    _handshake(ca, leaf, "127.0.0.1", tmp_path)


@pytest.mark.parametrize(
    ("dns", "ips"),
    [
        pytest.param([SERVICE, "kubernetes.default.svc"], [], id="another-dns-name"),
        pytest.param([SERVICE], ["10.0.0.1"], id="another-ip"),
    ],
)
def test_openssl_refuses_a_certificate_outside_the_cas_names(
    tmp_path: Path, dns: list[str], ips: list[str]
) -> None:
    ca = issuing.new_ca(dns_names=[SERVICE])
    # What a stolen CA key would sign: the injector's name plus another's.
    leaf = issuing.new_serving(ca, dns_names=dns, ips=ips)
    with pytest.raises(ssl.SSLCertVerificationError, match="subtree violation"):
        _handshake(ca, leaf, SERVICE, tmp_path)


def test_a_ca_permits_exactly_the_names_it_was_made_for() -> None:
    ca = issuing.new_ca(dns_names=[SERVICE], ips=["127.0.0.1"])
    assert name_constraints.permits(ca.cert, dns_names=[SERVICE], ips=["127.0.0.1"])
    assert not name_constraints.permits(ca.cert, dns_names=["example.com"], ips=[])
    assert not name_constraints.permits(ca.cert, dns_names=[], ips=["127.0.0.2"])
    assert not name_constraints.permits(issuing.new_ca().cert, dns_names=[SERVICE], ips=[])


def test_the_default_ca_lifetime_is_ninety_days() -> None:
    start, end = issuing.lifetime(issuing.new_ca().cert)
    assert end - start == datetime.timedelta(days=90)
