"""Leader election over a coordination.k8s.io Lease: the pure decisions with a fake
clock, then electors against the fake API server (fake clocks, no sleeping)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from support.certs import Link
from support.fake_kube import FakeApi

from injector.certs import leader
from injector.certs.leader import Action
from injector.cluster import kubeapi

T0 = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
NS, NAME = "sidecar-injector", "sidecar-injector-leader"
LEASES = f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases"


def _lease(holder: str, renewed: datetime.datetime | None, duration: int | None = 15) -> Any:
    spec: dict[str, Any] = {"holderIdentity": holder}
    if renewed is not None:
        spec["renewTime"] = leader.micro_time(renewed)
    if duration is not None:
        spec["leaseDurationSeconds"] = duration
    return {"metadata": {"name": NAME, "namespace": NS, "resourceVersion": "7"}, "spec": spec}


@pytest.mark.parametrize(
    ("lease", "now", "action"),
    [
        pytest.param(None, T0, Action.CREATE, id="no-lease"),
        pytest.param(_lease("me", T0), T0 + datetime.timedelta(seconds=60), Action.RENEW,
                     id="ours-even-if-late"),
        pytest.param(_lease("other", T0), T0 + datetime.timedelta(seconds=14), Action.WAIT,
                     id="other-live"),
        pytest.param(_lease("other", T0), T0 + datetime.timedelta(seconds=15), Action.WAIT,
                     id="other-at-expiry"),
        pytest.param(_lease("other", T0), T0 + datetime.timedelta(seconds=15.001),
                     Action.TAKE_OVER, id="other-expired"),
        pytest.param(_lease("", T0), T0, Action.TAKE_OVER, id="released"),
        pytest.param(_lease("other", None), T0, Action.TAKE_OVER, id="no-renew-time"),
        pytest.param(_lease("other", T0, None), T0, Action.TAKE_OVER, id="no-duration"),
    ],
)  # fmt: skip
def test_the_lease_decision_table(lease: Any, now: datetime.datetime, action: Action) -> None:
    assert leader.decide(lease, identity="me", now=now) is action


def test_taking_over_counts_a_transition_and_keeps_the_version_read() -> None:
    now = T0 + datetime.timedelta(seconds=20)
    taken = leader.claimed(
        _lease("other", T0), name=NAME, namespace=NS, identity="me", duration=15, now=now
    )
    assert taken["metadata"]["resourceVersion"] == "7"
    assert taken["spec"]["holderIdentity"] == "me"
    assert taken["spec"]["leaseTransitions"] == 1
    assert taken["spec"]["acquireTime"] == taken["spec"]["renewTime"] == leader.micro_time(now)
    renewed = leader.claimed(taken, name=NAME, namespace=NS, identity="me", duration=15,
                             now=now + datetime.timedelta(seconds=5))  # fmt: skip
    assert renewed["spec"]["acquireTime"] == leader.micro_time(now)
    assert renewed["spec"]["leaseTransitions"] == 1


def test_a_released_lease_has_no_holder() -> None:
    released = leader.released(_lease("me", T0), now=T0)
    assert released["spec"]["holderIdentity"] == ""
    assert leader.decide(released, identity="other", now=T0) is Action.TAKE_OVER


class Clocks:
    """A wall clock and a monotonic clock that only move when told."""

    def __init__(self) -> None:
        self.now, self.mono = T0, 1000.0

    def advance(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)
        self.mono += seconds


def _elector(transport: Any, identity: str, clocks: Clocks) -> leader.Elector:
    return leader.Elector(
        kubeapi.Cluster(transport),
        namespace=NS,
        name=NAME,
        identity=identity,
        duration=15,
        clock=lambda: clocks.now,
        monotonic=lambda: clocks.mono,
    )


def test_one_replica_leads_and_the_other_takes_over_only_after_the_lease_expires() -> None:
    api, clocks = FakeApi(), Clocks()
    a, b = _elector(api, "a", clocks), _elector(api, "b", clocks)
    a.attempt()
    b.attempt()
    assert (a.is_leader(), b.is_leader()) == (True, False)
    clocks.advance(5)
    a.attempt()  # renews
    clocks.advance(15)
    b.attempt()
    assert not b.is_leader(), "the lease was renewed 15 s ago: not expired yet"
    clocks.advance(0.5)  # a stopped renewing (it died) 15.5 s ago
    b.attempt()
    assert b.is_leader()
    assert api.objects[LEASES][NAME]["spec"]["holderIdentity"] == "b"
    assert api.objects[LEASES][NAME]["spec"]["leaseTransitions"] == 1


def test_a_follower_looks_again_right_when_the_lease_expires() -> None:
    api, clocks = FakeApi(), Clocks()
    a, b = _elector(api, "a", clocks), _elector(api, "b", clocks)
    a.attempt()
    clocks.advance(14)
    assert b.attempt() == pytest.approx(1.05)


def test_a_leader_that_cannot_renew_stops_leading_before_anyone_may_take_over() -> None:
    link, clocks = Link(FakeApi()), Clocks()
    a = _elector(link, "a", clocks)
    a.attempt()
    link.cut = True
    clocks.advance(9.9)
    a.attempt()
    assert a.is_leader()
    clocks.advance(0.2)  # 10.1 s since the last renewal: 2/3 of the lease duration
    a.attempt()
    assert not a.is_leader()


def test_a_leader_learning_of_a_new_holder_stops_leading_at_once() -> None:
    api, clocks = FakeApi(), Clocks()
    a = _elector(api, "a", clocks)
    a.attempt()
    lease = api.objects[LEASES][NAME]
    api.put(LEASES, {**lease, "spec": {**lease["spec"], "holderIdentity": "b"}})
    a.attempt()
    assert not a.is_leader()


def test_of_two_takeovers_from_the_same_read_exactly_one_succeeds() -> None:
    api, clocks = FakeApi(), Clocks()
    cluster = kubeapi.Cluster(api)
    api.put(LEASES, _lease("dead", T0 - datetime.timedelta(minutes=1)))
    read = cluster.get_lease(NS, NAME)
    wins, conflicts = 0, 0
    for identity in ("a", "b"):
        claim = leader.claimed(read, name=NAME, namespace=NS, identity=identity, duration=15,
                               now=clocks.now)  # fmt: skip
        try:
            cluster.replace_lease(NS, claim)
            wins += 1
        except kubeapi.ApiError as err:
            assert err.conflict
            conflicts += 1
    assert (wins, conflicts) == (1, 1)
    assert api.objects[LEASES][NAME]["spec"]["holderIdentity"] == "a"


def test_a_leader_stopping_cleanly_releases_the_lease_for_an_immediate_successor() -> None:
    api, clocks = FakeApi(), Clocks()
    a, b = _elector(api, "a", clocks), _elector(api, "b", clocks)
    changes: list[bool] = []
    a.on_change = changes.append
    a.attempt()
    a.stop()
    assert changes == [True, False]
    b.attempt()
    assert b.is_leader()


def test_a_crashed_leader_does_not_release_the_lease() -> None:
    api, clocks = FakeApi(), Clocks()
    a, b = _elector(api, "a", clocks), _elector(api, "b", clocks)
    a.attempt()
    a.stop(release=False)
    b.attempt()
    assert not b.is_leader()
    assert api.objects[LEASES][NAME]["spec"]["holderIdentity"] == "a"
