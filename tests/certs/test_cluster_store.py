"""Certificates with replicas, against the fake API server: real servers on 127.0.0.1
(one per replica, each with its own link to the API), one Lease, one Secret, one
published caBundle. Only the leader writes; followers serve what the published bundle
trusts; a dead leader is replaced within the lease duration; a wiped caBundle is
repaired; a new CA is published before anything it signed is stored or served."""

from __future__ import annotations

import base64
import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography import x509
from support import certs as certsupport
from support import servers
from support.certs import Link, wait_until
from support.fake_kube import FakeApi

from injector.certs import authority, ca_material, cabundle, cluster_store, issuing, leader
from injector.cluster import kubeapi, registration
from injector.telemetry.metrics import Metrics

NS = "sidecar-injector"
WEBHOOKS = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
SECRETS = f"/api/v1/namespaces/{NS}/secrets"
SECRET = "sidecar-injector-certs"
LEASES = f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases"
OURS = [
    registration.NAMESPACE_WEBHOOK,
    registration.OBJECT_WEBHOOK,
    registration.REV_NAMESPACE_WEBHOOK,
    registration.REV_OBJECT_WEBHOOK,
]
FOREIGN = {"name": "other.example.com", "clientConfig": {"caBundle": "Zm9yZWlnbg=="}}


def _foreign(configuration: dict[str, Any]) -> dict[str, Any]:
    return next(h for h in configuration["webhooks"] if h["name"] == FOREIGN["name"])


LEASE_SECONDS = 2
CONFIG = f"""
certificates:
  validity: 4s
  renewBefore: 0.5
  publishGrace: 1s
  leaseDurationSeconds: {LEASE_SECONDS}
"""


def _configuration(bundle: str | None = None) -> dict[str, Any]:
    """Our MutatingWebhookConfiguration as `kubectl apply` of the manifest leaves it."""
    hooks: list[dict[str, Any]] = []
    for name in OURS:
        client_config: dict[str, Any] = {"service": {"name": "sidecar-injector", "namespace": NS}}
        if bundle is not None:
            client_config["caBundle"] = bundle
        hooks.append({"name": name, "clientConfig": client_config, "sideEffects": "None"})
    return {"metadata": {"name": "sidecar-injector"}, "webhooks": [*hooks, dict(FOREIGN)]}


def _api() -> FakeApi:
    api = FakeApi(watch_seconds=0.1)
    api.put(WEBHOOKS, _configuration())
    return api


def _trusted(api: FakeApi) -> list[x509.Certificate]:
    return cabundle.trusted_cas(api.objects[WEBHOOKS].get("sidecar-injector"), OURS)


def _leading(instance: servers.Running) -> bool:
    return bool(instance.server.state.metrics.certificate_leader._value.get())


@contextlib.contextmanager
def _replica(tmp_path: Path, name: str, api: FakeApi, config: str = CONFIG) -> Iterator[Any]:
    link = Link(api)
    with servers.running(tmp_path / name, config, cluster=kubeapi.Cluster(link)) as instance:
        yield instance, link


def _mkdirs(tmp_path: Path, *names: str) -> None:
    for name in names:
        (tmp_path / name).mkdir()


def test_replicas_serve_one_certificate_that_only_the_leader_issues_and_publishes(
    tmp_path: Path,
) -> None:
    api = _api()
    _mkdirs(tmp_path, "a", "b")
    with _replica(tmp_path, "a", api) as (a, _), _replica(tmp_path, "b", api) as (b, link_b):
        wait_until(lambda: a.server.state.ready() and b.server.state.ready(), 10, "readiness")
        wait_until(
            lambda: certsupport.presented(a.port) == certsupport.presented(b.port),
            10,
            "both replicas to serve the same certificate",
        )
        assert (_leading(a), _leading(b)) == (True, False)
        secret = api.objects[SECRETS]["sidecar-injector-certs"]
        bundle = issuing.load_certificates(base64.b64decode(secret["data"]["ca.crt"]))
        assert _trusted(api) == bundle
        assert link_b.writes() == [], "a follower never writes"
        stored = api.objects[WEBHOOKS]["sidecar-injector"]
        assert _foreign(stored) == FOREIGN


class TrustSampler:
    """Handshakes with a replica every 50 ms and records any certificate it presents
    that the published caBundle (as stored in the fake API) does not trust."""

    def __init__(self, api: FakeApi, port: int) -> None:
        self.api, self.port = api, port
        self.samples, self.untrusted = 0, list[str]()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            served = certsupport.presented(self.port)
            roots = _trusted(self.api)
            if not issuing.chains_to(served, roots, now=issuing.now_utc()):
                self.untrusted.append(issuing.serial_hex(served))
            self.samples += 1
            time.sleep(0.05)

    def __enter__(self) -> TrustSampler:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def _material() -> ca_material.Material:
    issuer = authority.Settings(dns_names=("localhost",), ips=("127.0.0.1",))
    return authority.advance(None, authority.Step.START, now=issuing.now_utc(), settings=issuer)


def test_a_follower_serves_a_stored_certificate_only_once_the_published_bundle_trusts_it(
    tmp_path: Path,
) -> None:
    api = _api()
    ghost = {"holderIdentity": "ghost", "leaseDurationSeconds": 3600,
             "renewTime": leader.micro_time(issuing.now_utc())}  # fmt: skip
    api.put(LEASES, {"metadata": {"name": "sidecar-injector-leader"}, "spec": ghost})
    first, second = _material(), _material()
    api.put(SECRETS, cluster_store.secret_for(first, name=SECRET, namespace=NS, version=None))
    api.put(WEBHOOKS, _configuration(base64.b64encode(first.bundle_pem).decode()))
    _mkdirs(tmp_path, "b")
    with _replica(tmp_path, "b", api) as (b, link):
        wait_until(lambda: certsupport.presented(b.port) == first.leaf.cert, 10, "first")
        assert b.server.state.ready()
        api.put(SECRETS, cluster_store.secret_for(second, name=SECRET, namespace=NS, version=None))
        time.sleep(1.0)  # the follower has seen the Secret by now, but may not serve it
        assert certsupport.presented(b.port) == first.leaf.cert
        assert b.server.state.ready()
        api.put(WEBHOOKS, _configuration(base64.b64encode(second.bundle_pem).decode()))
        wait_until(lambda: certsupport.presented(b.port) == second.leaf.cert, 5, "second")
        assert b.server.state.ready()
    assert link.writes() == []


def _stored_serial(api: FakeApi) -> int:
    secret = api.objects[SECRETS]["sidecar-injector-certs"]
    leaf = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    return int(leaf.serial_number)


def test_a_dead_leader_is_replaced_within_the_lease_duration_and_rotation_goes_on(
    tmp_path: Path,
) -> None:
    api = _api()
    _mkdirs(tmp_path, "a", "b")
    with _replica(tmp_path, "a", api) as (a, link_a), _replica(tmp_path, "b", api) as (b, _):
        wait_until(lambda: _leading(a) and b.server.state.ready(), 10, "a leader and a follower")
        with TrustSampler(api, b.port) as sampler:
            link_a.cut = True  # the leader's node is gone: it can no longer renew
            cut = time.monotonic()
            wait_until(lambda: _leading(b), LEASE_SECONDS + 3, "the follower to take over")
            took_over = time.monotonic() - cut
            wait_until(lambda: not _leading(a), LEASE_SECONDS, "the old leader to stand down")
            before = _stored_serial(api)
            wait_until(lambda: _stored_serial(api) != before, 5, "the new leader to renew")
            wait_until(b.server.state.ready, 5, "the new leader to be ready")
            time.sleep(0.5)
    print(f"\nleader hand-over after {took_over:.2f}s (lease {LEASE_SECONDS}s), "
          f"{sampler.samples} handshakes sampled")  # fmt: skip
    assert took_over <= LEASE_SECONDS + 0.5
    assert sampler.samples > 20
    assert sampler.untrusted == []


def _holder(api: FakeApi) -> str:
    return str(api.objects[LEASES]["sidecar-injector-leader"]["spec"]["holderIdentity"])


def test_a_leader_shut_down_cleanly_hands_over_without_waiting_for_the_lease(
    tmp_path: Path,
) -> None:
    api = _api()
    _mkdirs(tmp_path, "a", "b")
    with contextlib.ExitStack() as a_running:
        a, _ = a_running.enter_context(_replica(tmp_path, "a", api))
        wait_until(lambda: _leading(a), 10, "a leader")
        with _replica(tmp_path, "b", api) as (b, _):
            wait_until(b.server.state.ready, 10, "a ready follower")
            holder = _holder(api)
            a_running.close()  # a rolling update stops the leader
            stopped = time.monotonic()
            assert _holder(api) != holder, "the lease was released"
            wait_until(lambda: _leading(b), LEASE_SECONDS, "the follower to take over")
            took_over = time.monotonic() - stopped
    assert took_over < LEASE_SECONDS / 2


def test_a_caBundle_wiped_by_a_re_apply_is_repaired_within_seconds(tmp_path: Path) -> None:
    api = _api()
    _mkdirs(tmp_path, "a")
    with _replica(tmp_path, "a", api) as (a, _):
        wait_until(a.server.state.ready, 10, "readiness")
        published = _trusted(api)
        api.put(WEBHOOKS, _configuration(""))  # kubectl apply of a manifest, caBundle ""
        wiped = time.monotonic()
        wait_until(lambda: _trusted(api) == published, 5, "the caBundle to be repaired")
        repaired_after = time.monotonic() - wiped
        repairs = a.server.state.metrics.cabundle_repairs._value.get()
        wait_until(a.server.state.ready, 5, "readiness again")
    assert repaired_after < 3
    assert repairs == 1
    assert _foreign(api.objects[WEBHOOKS]["sidecar-injector"]) == FOREIGN


CA_CONFIG = f"""
certificates:
  validity: 2s
  caValidity: 8s
  renewBefore: 0.5
  publishGrace: 1s
  leaseDurationSeconds: {LEASE_SECONDS}
"""


def _leaf_issuer(secret: dict[str, Any]) -> bytes:
    leaf = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    return leaf.issuer.public_bytes()


def _issuers_in_order(api: FakeApi) -> list[bytes]:
    """The CAs the stored certificate came from, in turn; fails if a certificate was
    stored while the published caBundle did not trust its CA (the first one excepted:
    nothing can be published before there is a CA)."""
    trusted: set[bytes] = set()
    issuers: list[bytes] = []
    for _rv, collection, kind, obj in list(api.events):  # in the order the API saw them
        if collection == WEBHOOKS and kind != "DELETED":
            trusted = {ca.subject.public_bytes() for ca in cabundle.trusted_cas(obj, OURS)}
        elif collection == SECRETS:
            issuer = _leaf_issuer(obj)
            assert not issuers or issuer in trusted, "stored before its CA was published"
            if not issuers or issuers[-1] != issuer:
                issuers.append(issuer)
    return issuers


def test_a_new_ca_signs_nothing_until_the_bundle_that_trusts_it_is_published(
    tmp_path: Path,
) -> None:
    """The CA is due 4 s in; publishing is refused until 4.8 s, so the new CA waits."""
    api = _api()
    _mkdirs(tmp_path, "a")
    with _replica(tmp_path, "a", api, CA_CONFIG) as (a, link), TrustSampler(api, a.port) as sampler:
        started = time.monotonic()
        wait_until(a.server.state.ready, 10, "readiness")
        link.refused.add("PATCH")
        time.sleep(max(0.0, started + 4.8 - time.monotonic()))
        failures = a.server.state.metrics.cabundle_apply_failures._value.get()
        link.refused.clear()
        time.sleep(max(0.0, started + 7.0 - time.monotonic()))
    assert failures >= 1, "publishing was refused while the new CA was made"
    assert len(_issuers_in_order(api)) >= 2, "the CA rotated once it was published"
    assert sampler.untrusted == [] and sampler.samples > 20


def test_a_stopping_keeper_gives_the_lease_up_before_its_loop_stops() -> None:
    """Once stopping, a leader issues nothing more: the Lease goes first, so a tick that
    is still running is no longer the leader's."""
    order: list[str] = []

    class Recorder:
        on_change: Any = None

        def __init__(self, name: str) -> None:
            self.name = name

        def stop(self, **_options: Any) -> None:
            order.append(self.name)

    elector = Recorder("lease released")
    keeper = cluster_store.ClusterKeeper(
        view=Recorder("view"),
        publisher=Recorder("publisher"),
        elector=elector,
        served=Recorder("served"),
        settings=authority.Settings(dns_names=("a",)),
        metrics=Metrics(),
    )
    keeper.loop = Recorder("loop stopped")
    keeper.stop()
    assert order == ["lease released", "loop stopped"]
