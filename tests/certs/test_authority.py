"""The issuer's decisions, with a fake clock: when to renew, when to start a new CA, what
bundle to publish, when a new CA may sign what is served, when an old CA goes, and which
certificate a replica serves. Real certificates, no sleeping."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import replace

import pytest

from injector.certs import authority, ca_material, issuing, name_constraints
from injector.certs.authority import Step

T0 = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
SECOND = datetime.timedelta(seconds=1)
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)
SETTINGS = authority.Settings(
    dns_names=("sidecar-injector.mesh.svc", "sidecar-injector.mesh.svc.cluster.local"),
    ips=("127.0.0.1",),
    validity=24 * HOUR,
    ca_validity=30 * DAY,
    renew_before=1 / 3,
    publish_grace=5 * SECOND,
)


def _start(now: datetime.datetime = T0) -> ca_material.Material:
    return authority.advance(None, Step.START, now=now, settings=SETTINGS)


def _published(m: ca_material.Material, since: datetime.datetime) -> authority.Published:
    return authority.Published().observe(m.bundle, since)


def _decide(
    m: ca_material.Material | None,
    now: datetime.datetime,
    published: authority.Published | None = None,
) -> Step:
    published = published or authority.Published()
    return authority.decide(m, now=now, settings=SETTINGS, published=published)


def test_nothing_usable_starts_a_new_ca_and_a_serving_certificate_for_the_service() -> None:
    assert _decide(None, T0) is Step.START
    m = _start()
    assert m.bundle == (m.signer.cert,)
    assert issuing.issued_by(m.leaf.cert, m.signer.cert)
    assert authority._names(m.leaf.cert) == (set(SETTINGS.dns_names), {"127.0.0.1"})
    assert issuing.lifetime(m.leaf.cert) == (T0, T0 + 24 * HOUR)


@pytest.mark.parametrize(
    ("age", "step"),
    [
        pytest.param(0 * HOUR, Step.KEEP, id="new"),
        pytest.param(15 * HOUR, Step.KEEP, id="more-than-a-third-left"),
        pytest.param(16 * HOUR, Step.RENEW, id="a-third-left"),
        pytest.param(23 * HOUR, Step.RENEW, id="nearly-expired"),
        pytest.param(25 * HOUR, Step.RENEW, id="expired"),
    ],
)
def test_the_serving_certificate_is_renewed_when_a_third_of_its_life_is_left(
    age: datetime.timedelta, step: Step
) -> None:
    assert _decide(_start(), T0 + age) is step


def test_the_renewal_fraction_is_a_setting() -> None:
    half = replace(SETTINGS, renew_before=0.5)
    m = _start()
    published = authority.Published()
    assert authority.decide(m, now=T0 + 11 * HOUR, settings=half, published=published) is Step.KEEP
    assert authority.decide(m, now=T0 + 12 * HOUR, settings=half, published=published) is Step.RENEW


def test_a_renewed_certificate_comes_from_the_same_ca_and_changes_nothing_else() -> None:
    m = _start()
    renewed = authority.advance(m, Step.RENEW, now=T0 + 16 * HOUR, settings=SETTINGS)
    assert renewed.leaf.cert.serial_number != m.leaf.cert.serial_number
    assert issuing.issued_by(renewed.leaf.cert, m.signer.cert)
    assert (renewed.bundle, renewed.signer, renewed.pending) == (m.bundle, m.signer, None)


@pytest.mark.parametrize(
    ("change", "step"),
    [
        # The CA's name constraints permit only the old names: a new CA comes first.
        pytest.param({"dns_names": ("other.mesh.svc",)}, Step.NEW_CA, id="other-dns-names"),
        pytest.param({"ips": ("10.0.0.9",)}, Step.NEW_CA, id="other-ips"),
        pytest.param({"validity": HOUR}, Step.RENEW, id="shorter-validity"),
        pytest.param({"dns_names": (*SETTINGS.dns_names[:1],)}, Step.RENEW, id="fewer-dns-names"),
    ],
)
def test_a_certificate_issued_under_other_settings_is_replaced_at_once(
    change: dict, step: Step
) -> None:
    m = _start()
    published = authority.Published()
    changed = replace(SETTINGS, **change)
    assert authority.decide(m, now=T0, settings=changed, published=published) is step


def test_new_names_are_served_only_from_a_published_ca_that_permits_them() -> None:
    m = _start()
    changed = replace(SETTINGS, dns_names=("other.mesh.svc",))
    chosen, m = authority.step(m, now=T0, settings=changed, published=authority.Published())
    assert chosen is Step.NEW_CA and m.pending is not None
    assert name_constraints.permits(m.pending.cert, dns_names=["other.mesh.svc"], ips=SETTINGS.ips)
    published = authority.Published().observe(m.bundle, T0)
    later = T0 + datetime.timedelta(minutes=1)
    chosen, m = authority.step(m, now=later, settings=changed, published=published)
    assert chosen is Step.SWITCH
    assert authority._names(m.leaf.cert)[0] == {"other.mesh.svc"}


def test_a_ca_living_longer_than_the_configured_lifetime_is_followed_by_a_new_one() -> None:
    m = _start()
    shorter = replace(SETTINGS, ca_validity=SETTINGS.ca_validity / 2)
    assert authority.decide(m, now=T0, settings=shorter, published=authority.Published()) is (
        Step.NEW_CA
    )


def test_a_ca_without_name_constraints_is_followed_by_a_constrained_one() -> None:
    m = _start()
    legacy = issuing.new_ca(validity=SETTINGS.ca_validity, now=T0)
    leaf = issuing.new_serving(legacy, dns_names=SETTINGS.dns_names, ips=SETTINGS.ips, now=T0)
    m = ca_material.Material((legacy.cert,), legacy, leaf)
    assert authority.decide(m, now=T0, settings=SETTINGS, published=authority.Published()) is (
        Step.NEW_CA
    )


def test_an_address_written_another_way_is_the_same_address() -> None:
    m = authority.advance(None, Step.START, now=T0, settings=replace(SETTINGS, ips=("::1",)))
    spelled = replace(SETTINGS, ips=("0:0:0:0:0:0:0:1",))
    published = authority.Published()
    assert authority.decide(m, now=T0, settings=spelled, published=published) is Step.KEEP


def test_a_ca_with_a_third_of_its_life_left_gets_a_successor_in_the_bundle_first() -> None:
    due = T0 + 20 * DAY
    m = authority.advance(_start(), Step.RENEW, now=due, settings=SETTINGS)
    assert _decide(m, due - SECOND) is Step.KEEP
    assert _decide(m, due) is Step.NEW_CA
    rotated = authority.advance(m, Step.NEW_CA, now=due, settings=SETTINGS)
    assert rotated.pending is not None
    assert rotated.bundle == (m.signer.cert, rotated.pending.cert)
    # The old CA still signs: nothing from the new one is served before it is published.
    assert rotated.signer == m.signer and rotated.leaf == m.leaf
    assert rotated.bundle_pem == issuing.pem_bundle([m.signer.cert, rotated.pending.cert])


def _overlapping() -> tuple[ca_material.Material, datetime.datetime]:
    """A CA issued at T0, due at T0 + 20 days, with a fresh leaf then, and its successor."""
    due = T0 + 20 * DAY
    m = authority.advance(_start(), Step.RENEW, now=due, settings=SETTINGS)
    return authority.advance(m, Step.NEW_CA, now=due, settings=SETTINGS), due


def test_the_new_ca_signs_only_after_it_has_been_published_for_the_grace_period() -> None:
    m, due = _overlapping()
    assert m.pending is not None
    nothing = authority.Published()
    old_only = authority.Published().observe([m.bundle[0]], due)
    assert _decide(m, due + HOUR, nothing) is Step.KEEP
    assert _decide(m, due + HOUR, old_only) is Step.KEEP
    both = _published(m, due + 10 * SECOND)
    assert _decide(m, due + 14 * SECOND, both) is Step.KEEP
    assert _decide(m, due + 15 * SECOND, both) is Step.SWITCH


def test_switching_serves_a_certificate_from_the_new_ca_and_keeps_the_old_ca_trusted() -> None:
    m, due = _overlapping()
    assert m.pending is not None
    switched = authority.advance(m, Step.SWITCH, now=due + HOUR, settings=SETTINGS)
    assert switched.signer == m.pending and switched.pending is None
    assert issuing.issued_by(switched.leaf.cert, m.pending.cert)
    assert switched.bundle == m.bundle  # old + new: the old certificate may still be served
    assert switched.retire_after == m.leaf.cert.not_valid_after_utc


def test_the_old_ca_is_dropped_once_the_last_certificate_it_signed_has_expired() -> None:
    m, due = _overlapping()
    switched = authority.advance(m, Step.SWITCH, now=due + HOUR, settings=SETTINGS)
    retire = switched.retire_after
    assert retire is not None
    # A fresh certificate at retirement time, so that renewing it is not what is due.
    switched = authority.advance(switched, Step.RENEW, now=retire - HOUR, settings=SETTINGS)
    assert _decide(switched, retire - SECOND) is Step.KEEP
    assert _decide(switched, retire) is Step.RETIRE
    retired = authority.advance(switched, Step.RETIRE, now=retire, settings=SETTINGS)
    assert retired.bundle == (switched.signer.cert,) and retired.retire_after is None
    assert _decide(retired, retire) is Step.KEEP


def test_old_cas_without_a_retirement_time_are_scheduled_not_dropped_at_once() -> None:
    old = issuing.new_ca(validity=30 * DAY, now=T0)
    m = _start()
    m = replace(m, bundle=(old.cert, *m.bundle))
    assert _decide(m, T0) is Step.RETIRE
    scheduled = authority.advance(m, Step.RETIRE, now=T0, settings=SETTINGS)
    assert scheduled.bundle == m.bundle
    assert scheduled.retire_after == T0 + SETTINGS.validity


def test_an_expired_signing_ca_starts_over() -> None:
    assert _decide(_start(), T0 + 31 * DAY) is Step.START


def test_the_next_decision_is_the_renewal_time_of_the_serving_certificate() -> None:
    m = _start()
    wake = authority.next_decision(m, settings=SETTINGS, published=_published(m, T0))
    assert wake == T0 + 16 * HOUR
    assert _decide(m, wake) is Step.RENEW


def test_a_stepping_loop_with_a_fake_clock_rotates_cas_without_gaps_in_trust() -> None:
    """Run the issuer for 100 simulated days, publishing after every step: at every
    moment the served certificate chains to what was published a grace period ago."""
    settings = replace(SETTINGS, ca_validity=10 * DAY)
    m, pub, now = None, authority.Published(), T0
    steps = []
    while now < T0 + 100 * DAY:
        chosen, m = authority.step(m, now=now, settings=settings, published=pub)
        steps.append(chosen)
        if chosen is not Step.START:
            assert pub.trusts(m.leaf.cert, now), f"untrusted certificate at {now}"
        pub = pub.observe(m.bundle, now)
        wake = authority.next_decision(m, settings=settings, published=pub)
        now = max(now + SECOND, wake or now + HOUR) if chosen is Step.KEEP else now
    assert steps.count(Step.NEW_CA) >= 9 and steps.count(Step.SWITCH) >= 9
    assert steps.count(Step.RETIRE) >= 9 and steps.count(Step.START) == 1
    assert m is not None and len(m.bundle) <= 2


# -- which certificate a replica serves ----------------------------------------------


def test_a_replica_serves_the_stored_certificate_once_the_published_bundle_trusts_it() -> None:
    m = _start()
    newer = authority.advance(m, Step.RENEW, now=T0 + HOUR, settings=SETTINGS).leaf.cert
    assert authority.choose(m.leaf.cert, newer, _published(m, T0), T0 + HOUR) == newer


def test_a_replica_keeps_a_trusted_certificate_rather_than_serve_an_untrusted_one() -> None:
    m, other = _start(), _start()
    pub = _published(m, T0)
    assert authority.choose(m.leaf.cert, other.leaf.cert, pub, T0) == m.leaf.cert


def test_when_nothing_is_trusted_yet_a_replica_serves_what_will_be_published() -> None:
    placeholder, stored = _start(), _start()
    nothing = authority.Published()
    assert (
        authority.choose(placeholder.leaf.cert, stored.leaf.cert, nothing, T0) == stored.leaf.cert
    )
    assert authority.choose(None, stored.leaf.cert, nothing, T0) == stored.leaf.cert


def test_published_trust_needs_a_valid_issuing_ca_and_a_valid_certificate() -> None:
    m = _start()
    pub = _published(m, T0)
    assert pub.trusts(m.leaf.cert, T0)
    assert not pub.trusts(m.leaf.cert, T0 + 25 * HOUR)
    assert not authority.Published().trusts(m.leaf.cert, T0)
    assert not _published(_start(), T0).trusts(m.leaf.cert, T0)


def test_published_remembers_when_each_ca_was_first_seen() -> None:
    m = _start()
    pub = _published(m, T0).observe(m.bundle, T0 + HOUR)
    assert pub.since == {issuing.fingerprint(m.signer.cert): T0}
    assert authority.Published().observe([], T0).since == {}


# -- storage --------------------------------------------------------------------------


def test_material_survives_a_round_trip_through_files_in_every_phase() -> None:
    m, due = _overlapping()
    switched = authority.advance(m, Step.SWITCH, now=due + HOUR, settings=SETTINGS)
    for material in (_start(), m, switched):
        back = ca_material.from_files(ca_material.to_files(material))
        assert back.bundle == material.bundle and back.leaf.cert == material.leaf.cert
        assert back.signer.cert == material.signer.cert
        assert (back.pending and back.pending.cert) == (material.pending and material.pending.cert)
        assert back.retire_after == material.retire_after


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda f: f.pop(ca_material.CERT_FILE), id="no-certificate"),
        pytest.param(lambda f: f.update({ca_material.KEY_FILE: b"garbage"}), id="bad-key"),
        pytest.param(
            lambda f: f.update({ca_material.CA_KEY_FILE: _start().signer.key_pem}),
            id="ca-key-of-another-ca",
        ),
        pytest.param(
            lambda f: f.update({ca_material.KEY_FILE: _start().leaf.key_pem}),
            id="key-of-another-certificate",
        ),
    ],
)
def test_broken_material_is_refused_not_half_used(damage: Callable[[dict], object]) -> None:
    files = ca_material.to_files(_start())
    damage(files)
    with pytest.raises((ValueError, KeyError)):
        ca_material.from_files(files)
