"""When a replica renews its serving certificate itself (the Secret has no fresh one):
a pure decision on (what is served, the Secret's material, what is published, now)."""

from __future__ import annotations

import dataclasses
import datetime

import pytest

from injector.certs import authority, issuing, outage
from injector.certs.ca_material import Material

SETTINGS = authority.Settings(
    dns_names=("localhost",), ips=("127.0.0.1",), validity=datetime.timedelta(hours=24)
)
START = issuing.now_utc()
DUE = START + datetime.timedelta(hours=17)  # 7 h left: past the 8 h renewal point
LATE = START + datetime.timedelta(hours=21)  # 3 h left: past half the window (4 h)


def _material() -> Material:
    return authority.advance(None, authority.Step.START, now=START, settings=SETTINGS)


MATERIAL = _material()
PUBLISHED = authority.Published().observe(MATERIAL.bundle, START)
OTHER = authority.Published().observe(_material().bundle, START)


@pytest.mark.parametrize(
    ("now", "api_away", "published", "expected"),
    [
        pytest.param(START, True, PUBLISHED, False, id="not-due"),
        pytest.param(DUE, True, PUBLISHED, True, id="due-and-api-away"),
        pytest.param(DUE, False, PUBLISHED, False, id="due-but-the-leader-may-still-renew"),
        pytest.param(LATE, False, PUBLISHED, True, id="late-whatever-the-cause"),
        pytest.param(DUE, True, OTHER, False, id="signer-not-published"),
        pytest.param(DUE, True, authority.Published(), False, id="nothing-published-seen"),
    ],
)
def test_when_a_replica_renews_its_own_certificate(
    now: datetime.datetime, api_away: bool, published: authority.Published, expected: bool
) -> None:
    served = MATERIAL.leaf.cert
    decided = outage.renew_here(
        served, MATERIAL, published=published, now=now, settings=SETTINGS, api_away=api_away
    )
    assert decided is expected


def test_a_fresh_certificate_in_the_secret_is_served_rather_than_renewed_here() -> None:
    fresh = authority.advance(MATERIAL, authority.Step.RENEW, now=DUE, settings=SETTINGS)
    assert not outage.renew_here(
        MATERIAL.leaf.cert, fresh, published=PUBLISHED, now=DUE, settings=SETTINGS, api_away=True
    )


def test_no_renewal_from_a_ca_that_would_not_outlive_the_served_certificate() -> None:
    ca = issuing.new_ca(validity=datetime.timedelta(hours=30), now=START, dns_names=["localhost"])
    leaf = issuing.new_serving(
        ca, dns_names=["localhost"], validity=datetime.timedelta(hours=48), now=START
    )
    short = dataclasses.replace(MATERIAL, bundle=(ca.cert,), signer=ca, leaf=leaf)
    served = short.leaf.cert  # ends with the CA: nothing it signs can live longer
    published = authority.Published().observe(short.bundle, START)
    assert not outage.renew_here(
        served, short, published=published, now=START + datetime.timedelta(hours=29),
        settings=SETTINGS, api_away=True,
    )  # fmt: skip


def test_a_certificate_issued_here_is_trusted_by_the_published_bundle() -> None:
    issued = outage.issue(MATERIAL, now=DUE, settings=SETTINGS)
    assert PUBLISHED.trusts(issued.cert, DUE)
    assert issued.cert.not_valid_after_utc == (DUE + SETTINGS.validity).replace(microsecond=0)
    assert issued.cert != MATERIAL.leaf.cert
