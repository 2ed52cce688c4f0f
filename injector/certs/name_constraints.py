"""X.509 name constraints on our CA: it may sign only for the names the injector serves.

A CA with no constraints can sign a certificate for any name; if its key is ever copied
(it sits in a Secret), that is a CA for anything whoever trusts its bundle talks to. With
critical NameConstraints that permit only the service names and IPs of the serving
certificate, a copied key can only impersonate the injector itself. OpenSSL (and so
Python's ssl) and Go's crypto/x509 (kube-apiserver) both enforce them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from cryptography import x509


def for_names(dns_names: Sequence[str], ips: Sequence[str]) -> x509.NameConstraints:
    """Permit exactly these names (a DNS name covers its subdomains too, as X.509 has
    it) and these IPs (each a /32 or /128). Without IPs, every IP is excluded, so the CA
    cannot sign for any address at all."""
    permitted: list[x509.GeneralName] = [x509.DNSName(name) for name in dict.fromkeys(dns_names)]
    for ip in dict.fromkeys(ips):
        permitted.append(x509.IPAddress(ipaddress.ip_network(ip)))
    excluded: list[x509.GeneralName] | None = None
    if not ips:
        every = ("0.0.0.0/0", "::/0")
        excluded = [x509.IPAddress(ipaddress.ip_network(net)) for net in every]
    return x509.NameConstraints(permitted_subtrees=permitted or None, excluded_subtrees=excluded)


def permits(ca: x509.Certificate, *, dns_names: Sequence[str], ips: Sequence[str]) -> bool:
    """Whether `ca` has name constraints and they permit every one of these names."""
    try:
        constraints = ca.extensions.get_extension_for_class(x509.NameConstraints).value
    except x509.ExtensionNotFound:
        return False
    permitted = constraints.permitted_subtrees or []
    domains = [n.value.lower() for n in permitted if isinstance(n, x509.DNSName)]
    networks = [
        n.value
        for n in permitted
        if isinstance(n, x509.IPAddress)
        and isinstance(n.value, ipaddress.IPv4Network | ipaddress.IPv6Network)
    ]

    def dns_ok(name: str) -> bool:
        name = name.lower()
        return any(name == d or name.endswith("." + d) for d in domains)

    def ip_ok(ip: str) -> bool:
        address = ipaddress.ip_address(ip)
        return any(address in network for network in networks)

    return all(map(dns_ok, dns_names)) and all(map(ip_ok, ips))
