"""Serving through an API server outage: a replica renews its own serving certificate.

In cluster mode the Secret carries the CA's key, so every replica holds the signing CA
(see docs/certificates.md, "Who holds the CA key"). Normally only the Lease holder
issues, into the Secret, and every replica serves the Secret's certificate. When that
certificate comes due and no fresh one arrives through the Secret (the API server is
unavailable, or nobody can write the Secret), a replica issues one itself, from the
CA it holds, and serves it: never stored, never published, and only from a CA that is
in the caBundle this replica last saw published, so every kube-apiserver already
trusts it. A CA is never made or rotated here: that needs publishing first.

When the Secret offers a certificate that is not due, the replica goes back to it
(`ClusterKeeper._serve`), so the replicas converge on one certificate again once the
leader can write. Pure: (material, what is served, what is published, now) in.
"""

from __future__ import annotations

import datetime

from cryptography import x509

from injector.certs import authority, issuing
from injector.certs.ca_material import Material


def due(cert: x509.Certificate, now: datetime.datetime, settings: authority.Settings) -> bool:
    """`cert` has `renew_before` of its life left, or less."""
    return now >= authority.renew_at(cert, settings.renew_before)


def signer_published(m: Material, published: authority.Published, now: datetime.datetime) -> bool:
    """The CA that signs is valid and in the published caBundle as last seen."""
    signer = m.signer.cert
    fingerprint = issuing.fingerprint(signer)
    return issuing.valid_at(signer, now) and any(
        issuing.fingerprint(ca) == fingerprint for ca in published.cas
    )


def renew_here(
    served: x509.Certificate,
    m: Material,
    *,
    published: authority.Published,
    now: datetime.datetime,
    settings: authority.Settings,
    api_away: bool,
) -> bool:
    """Whether this replica should issue its own serving certificate now: what it serves
    is due, the Secret offers nothing fresher, the API server is unavailable (or half of
    the renewal window has gone by without a fresh certificate, whatever the cause), the
    signing CA is published, and a certificate from it would outlive the served one."""
    if not due(served, now, settings) or not due(m.leaf.cert, now, settings):
        return False
    late = now >= authority.renew_at(served, settings.renew_before / 2)
    return (
        (api_away or late)
        and signer_published(m, published, now)
        and m.signer.cert.not_valid_after_utc > served.not_valid_after_utc
    )


def issue(m: Material, *, now: datetime.datetime, settings: authority.Settings) -> issuing.Issued:
    """A serving certificate from the material's signing CA (kept in memory only)."""
    return issuing.new_serving(
        m.signer,
        dns_names=settings.dns_names,
        ips=settings.ips,
        validity=settings.validity,
        now=now,
    )
