"""The certificate authority's decisions, as pure functions of (material, now, settings,
what is published). No clock, no files, no cluster: the loops in `directory_store` and
`cluster_store` feed these functions and carry out the answers.

The material (`ca_material`) is a CA bundle, the CA that signs, the serving certificate
and, during a CA rotation, the next CA. One `decide` call returns the single next step:

    START   nothing usable (first run, unreadable, signer expired): new CA + certificate
    SWITCH  the next CA has been published for `publish_grace`: it signs from now on,
            and a certificate from it replaces the served one
    RENEW   the serving certificate has `renew_before` of its life left (or is expired,
            not from the signer, or for other names): a new one from the same CA
    NEW_CA  the signing CA has `renew_before` of its life left: a next CA joins the
            bundle, but signs nothing until the bundle that trusts it is published
    RETIRE  old CAs leave the bundle once nothing they signed can still be served
            (the last certificate from them has expired), or are scheduled to

So a bundle holds the old and the new CA while both may be needed, and a certificate is
never served from a CA that clients do not trust yet (vault-k8s publishes before it
serves for the same reason; cert-manager renews its CA at 2/3 of its life).
"""

from __future__ import annotations

import datetime
import enum
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from cryptography import x509

from injector.certs import issuing, name_constraints
from injector.certs.ca_material import Material


@dataclass(frozen=True)
class Settings:
    """What to issue and when. Lifetimes are counted from issue (see issuing.lifetime)."""

    dns_names: tuple[str, ...]
    ips: tuple[str, ...] = ()
    validity: datetime.timedelta = issuing.SERVING_VALIDITY
    ca_validity: datetime.timedelta = issuing.CA_VALIDITY
    # Renew when this fraction of a certificate's lifetime is left.
    renew_before: float = 1 / 3
    # How long a new CA must have been seen published before anything it signed is
    # served: time for every kube-apiserver to load the new caBundle.
    publish_grace: datetime.timedelta = datetime.timedelta(seconds=5)


@dataclass(frozen=True)
class Published:
    """The CAs clients trust now (the caBundle as last observed), and since when each
    has been seen there."""

    cas: tuple[x509.Certificate, ...] = ()
    since: Mapping[bytes, datetime.datetime] = field(default_factory=dict)

    def observe(self, cas: Iterable[x509.Certificate], now: datetime.datetime) -> Published:
        """A new observation; CAs seen before keep their first-seen time."""
        seen = tuple(cas)
        since = {fp: self.since.get(fp, now) for fp in map(issuing.fingerprint, seen)}
        return Published(seen, since)

    def trusts(self, cert: x509.Certificate, now: datetime.datetime) -> bool:
        """`cert` is valid now and issued by a published CA that is valid now."""
        return issuing.valid_at(cert, now) and any(
            issuing.valid_at(ca, now) and issuing.issued_by(cert, ca) for ca in self.cas
        )


class Step(enum.Enum):
    KEEP = "keep"
    START = "start"
    SWITCH = "switch"
    RENEW = "renew"
    NEW_CA = "new_ca"
    RETIRE = "retire"


def renew_at(cert: x509.Certificate, fraction: float) -> datetime.datetime:
    """The moment `fraction` of the certificate's lifetime is left."""
    start, end = issuing.lifetime(cert)
    return end - (end - start) * fraction


def _names(cert: x509.Certificate) -> tuple[set[str], set[str]]:
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set(), set()
    ips = {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    return set(sans.get_values_for_type(x509.DNSName)), ips


def leaf_due(m: Material, now: datetime.datetime, settings: Settings) -> bool:
    """The serving certificate must be replaced (from the current signer)."""
    leaf = m.leaf.cert
    start, end = issuing.lifetime(leaf)
    wanted = (set(settings.dns_names), {str(ipaddress.ip_address(ip)) for ip in settings.ips})
    return (
        not issuing.valid_at(leaf, now)
        or not issuing.issued_by(leaf, m.signer.cert)
        or _names(leaf) != wanted
        or end - start > settings.validity + datetime.timedelta(seconds=1)
        or now >= renew_at(leaf, settings.renew_before)
    )


def covers(ca: x509.Certificate, settings: Settings) -> bool:
    """The CA's name constraints permit every name the serving certificate needs. A CA
    without constraints (made by an older version) does not count: it is rotated."""
    return name_constraints.permits(ca, dns_names=settings.dns_names, ips=settings.ips)


def ca_due(m: Material, now: datetime.datetime, settings: Settings) -> bool:
    """The signer must be followed by a new CA: it is near its end, lives longer than
    the configured CA lifetime (a shortened caValidity), or does not cover the names."""
    start, end = issuing.lifetime(m.signer.cert)
    return (
        now >= renew_at(m.signer.cert, settings.renew_before)
        or end - start > settings.ca_validity + datetime.timedelta(seconds=1)
        or not covers(m.signer.cert, settings)
    )


def switch_ready(m: Material, now: datetime.datetime, settings: Settings, pub: Published) -> bool:
    """The next CA has been trusted by clients long enough to sign what is served."""
    if m.pending is None:
        return False
    since = pub.since.get(issuing.fingerprint(m.pending.cert))
    return since is not None and now - since >= settings.publish_grace


def _retirable(m: Material, now: datetime.datetime) -> bool:
    old = m.old_cas()
    if not old:
        return False
    expired = any(not issuing.valid_at(ca, now) for ca in old)
    return expired or m.retire_after is None or now >= m.retire_after


def decide(
    m: Material | None, *, now: datetime.datetime, settings: Settings, published: Published
) -> Step:
    """The one next step for the material (see the module docstring for the order)."""
    if m is None or not issuing.valid_at(m.signer.cert, now):
        return Step.START
    if switch_ready(m, now, settings, published):
        return Step.SWITCH
    # A leaf with a name the signer's constraints do not permit would fail every
    # verification: then wait for a CA that covers it (published first, as always).
    if leaf_due(m, now, settings) and covers(m.signer.cert, settings):
        return Step.RENEW
    if m.pending is None and ca_due(m, now, settings):
        return Step.NEW_CA
    if m.pending is not None and not covers(m.pending.cert, settings):
        return Step.NEW_CA  # the names changed again while a CA was being published
    if _retirable(m, now):
        return Step.RETIRE
    return Step.KEEP


def _ca(now: datetime.datetime, settings: Settings) -> issuing.Issued:
    return issuing.new_ca(
        validity=settings.ca_validity, now=now, dns_names=settings.dns_names, ips=settings.ips
    )


def _leaf(ca: issuing.Issued, now: datetime.datetime, settings: Settings) -> issuing.Issued:
    return issuing.new_serving(
        ca, dns_names=settings.dns_names, ips=settings.ips, validity=settings.validity, now=now
    )


def _retire(m: Material, now: datetime.datetime, settings: Settings) -> Material:
    if m.retire_after is None:
        # Old CAs with no record of their last certificate (an older version wrote the
        # material, or a person edited it): any certificate they signed was issued
        # before now, so it has expired after one lifetime.
        return replace(m, retire_after=now + settings.validity)
    old = m.old_cas()
    # Before retire_after, only old CAs that have expired themselves go.
    expired = [ca for ca in old if not issuing.valid_at(ca, now)]
    gone = old if now >= m.retire_after else expired
    bundle = tuple(ca for ca in m.bundle if ca not in gone)
    retire = m.retire_after if len(gone) < len(old) else None
    return replace(m, bundle=bundle, retire_after=retire)


def advance(
    m: Material | None, step: Step, *, now: datetime.datetime, settings: Settings
) -> Material:
    """Carry out `step`; issues keys and certificates as needed."""
    if step is Step.START or m is None:
        ca = _ca(now, settings)
        return Material((ca.cert,), ca, _leaf(ca, now, settings))
    if step is Step.RENEW:
        return replace(m, leaf=_leaf(m.signer, now, settings))
    if step is Step.NEW_CA:
        nxt = _ca(now, settings)
        return replace(m, bundle=(*m.bundle, nxt.cert), pending=nxt)
    if step is Step.SWITCH and m.pending is not None:
        last = m.leaf.cert.not_valid_after_utc
        retire = last if m.retire_after is None else max(last, m.retire_after)
        leaf = _leaf(m.pending, now, settings)
        return Material(m.bundle, m.pending, leaf, None, retire)
    if step is Step.RETIRE:
        return _retire(m, now, settings)
    return m


def step(
    m: Material | None, *, now: datetime.datetime, settings: Settings, published: Published
) -> tuple[Step, Material]:
    """Decide and carry out the next step."""
    chosen = decide(m, now=now, settings=settings, published=published)
    return chosen, advance(m, chosen, now=now, settings=settings)


def next_decision(
    m: Material, *, settings: Settings, published: Published
) -> datetime.datetime | None:
    """The next moment `decide` may answer something else, if time alone can change it."""
    moments = [renew_at(m.leaf.cert, settings.renew_before), m.leaf.cert.not_valid_after_utc]
    if m.pending is None:
        moments.append(renew_at(m.signer.cert, settings.renew_before))
    else:
        since = published.since.get(issuing.fingerprint(m.pending.cert))
        if since is not None:
            moments.append(since + settings.publish_grace)
    if m.retire_after is not None:
        moments.append(m.retire_after)
    moments += [ca.not_valid_after_utc for ca in m.old_cas()]
    return min(moments)


def choose(
    current: x509.Certificate | None,
    candidate: x509.Certificate | None,
    published: Published,
    now: datetime.datetime,
) -> x509.Certificate | None:
    """Which certificate a replica serves: the stored one (candidate) once the published
    bundle trusts it; else the one it serves if that is trusted. When neither is
    trusted (nothing published yet) the valid candidate, which is what will be."""
    if candidate is None or (current is not None and current == candidate):
        return current
    if published.trusts(candidate, now):
        return candidate
    if current is not None and published.trusts(current, now):
        return current
    if issuing.valid_at(candidate, now) or current is None:
        return candidate
    return current
