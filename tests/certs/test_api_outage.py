"""The API server away for longer than a certificate's renewal window, end to end: two
replicas (real uvicorn over TLS on 127.0.0.1, each with its own link to the fake API)
keep answering reviews with certificates the published caBundle trusts, stay ready, and
converge on the Secret's one certificate once the API server is back.

Certificates live 4 s and are renewed with 2 s left; the API server is away for 10 s
(five renewal windows), so each replica renews from the published CA it holds."""

from __future__ import annotations

import base64
import contextlib
import logging
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from support import certs as certsupport
from support import servers
from support.certs import Link, fresh_client, wait_until
from support.fake_kube import FakeApi

from injector.certs import cabundle, issuing
from injector.cluster import kubeapi, registration

NS = "sidecar-injector"
WEBHOOKS = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
SECRETS = f"/api/v1/namespaces/{NS}/secrets"
OURS = [
    registration.NAMESPACE_WEBHOOK,
    registration.OBJECT_WEBHOOK,
    registration.REV_NAMESPACE_WEBHOOK,
    registration.REV_OBJECT_WEBHOOK,
]
OUTAGE_SECONDS = 10.0
CONFIG = """
certificates:
  validity: 4s
  renewBefore: 0.5
  publishGrace: 1s
  leaseDurationSeconds: 2
"""


def _api() -> FakeApi:
    api = FakeApi(watch_seconds=0.1)
    hooks = [
        {"name": name, "clientConfig": {"service": {"name": "sidecar-injector", "namespace": NS}},
         "sideEffects": "None"}
        for name in OURS
    ]  # fmt: skip
    api.put(WEBHOOKS, {"metadata": {"name": "sidecar-injector"}, "webhooks": hooks})
    return api


def _published(api: FakeApi) -> list[x509.Certificate]:
    return cabundle.trusted_cas(api.objects[WEBHOOKS].get("sidecar-injector"), OURS)


def _stored(api: FakeApi) -> x509.Certificate:
    secret = api.objects[SECRETS]["sidecar-injector-certs"]
    return x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))


@contextlib.contextmanager
def _replica(tmp_path: Path, name: str, api: FakeApi) -> Iterator[tuple[Any, Link]]:
    (tmp_path / name).mkdir()
    link = Link(api)
    with servers.running(tmp_path / name, CONFIG, cluster=kubeapi.Cluster(link)) as instance:
        yield instance, link


class Watcher:
    """Every 50 ms: is the replica ready, and does the published caBundle (as stored in
    the fake API, which the outage does not change) trust what it presents?"""

    def __init__(self, api: FakeApi, instance: Any) -> None:
        self.api, self.instance = api, instance
        self.samples, self.untrusted, self.unready = 0, list[str](), 0
        self.serials: set[int] = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            served = certsupport.presented(self.instance.port)
            self.serials.add(served.serial_number)
            if not issuing.chains_to(served, _published(self.api), now=issuing.now_utc()):
                self.untrusted.append(issuing.serial_hex(served))
            self.unready += 0 if self.instance.server.state.ready() else 1
            self.samples += 1
            time.sleep(0.05)

    def __enter__(self) -> Watcher:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def _readyz(instance: Any, bundle: Path) -> int:
    verify = ssl.create_default_context(cafile=str(bundle))
    return httpx.get(f"{instance.url}/readyz", verify=verify, timeout=5).status_code


def _metric(instance: Any, name: str) -> float:
    return float(getattr(instance.server.state.metrics, name)._value.get())


def test_two_replicas_serve_trusted_certificates_through_an_outage_longer_than_renewal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    api = _api()
    with (
        _replica(tmp_path, "a", api) as (a, link_a),
        _replica(tmp_path, "b", api) as (b, link_b),
    ):
        wait_until(lambda: a.server.state.ready() and b.server.state.ready(), 10, "readiness")
        bundle = tmp_path / "published.crt"
        bundle.write_bytes(issuing.pem_bundle(_published(api)))
        before = _stored(api)
        with (
            Watcher(api, a) as watch_a,
            Watcher(api, b) as watch_b,
            certsupport.clients(a.url, bundle, fresh=fresh_client) as seen_a,
            certsupport.clients(b.url, bundle, fresh=fresh_client) as seen_b,
            caplog.at_level(logging.INFO, logger="injector"),
        ):
            link_a.cut = link_b.cut = True  # kube-apiserver stops answering
            time.sleep(OUTAGE_SECONDS / 2)
            reachable = (_metric(a, "api_reachable"), _metric(b, "api_reachable"))
            time.sleep(OUTAGE_SECONDS / 2)
            readyz = [_readyz(instance, bundle) for instance in (a, b)]
            stored_during = _stored(api)
            link_a.cut = link_b.cut = False
            back = time.monotonic()
            wait_until(
                lambda: (
                    certsupport.presented(a.port) == certsupport.presented(b.port) == _stored(api)
                ),
                30,
                "both replicas to serve the Secret's certificate again",
            )
            converged = time.monotonic() - back
            time.sleep(0.5)
    lines = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.INFO]
    print(f"\n{OUTAGE_SECONDS:.0f}s outage: {seen_a['fresh'].requests} + "
          f"{seen_b['fresh'].requests} reviews, failures {seen_a['fresh'].failures} "
          f"{seen_b['fresh'].failures}; serials served {len(watch_a.serials)} and "
          f"{len(watch_b.serials)}; converged {converged:.1f}s after the API came back; "
          f"{len(lines)} log lines at info or above:")  # fmt: skip
    print("\n".join(f"  {line}" for line in lines))
    assert seen_a["fresh"].failures == [] and seen_b["fresh"].failures == []
    assert seen_a["fresh"].requests > 20 and seen_b["fresh"].requests > 20
    assert watch_a.untrusted == [] and watch_b.untrusted == []
    assert watch_a.unready == 0 and watch_b.unready == 0, "readiness stays 200 in an outage"
    assert stored_during == before, "nothing could be written during the outage"
    assert len(watch_a.serials) >= 3 and len(watch_b.serials) >= 3, "renewed here, in turn"
    assert reachable == (0.0, 0.0)
    assert readyz == [200, 200]
    assert _stored(api) != before, "the leader renewed into the Secret once back"
    assert sum("renewed here" in line for line in lines) >= 4
    assert sum(line.startswith("injector.api: API server unavailable") for line in lines) == 2


def test_a_leader_that_cannot_write_the_secret_backs_off_and_keeps_serving_trusted(
    tmp_path: Path,
) -> None:
    """Writes answered 503 for 6 s (three renewal windows): the leader retries with
    backoff, not in a loop, and serves a certificate it renewed itself meanwhile."""
    api = _api()
    with _replica(tmp_path, "a", api) as (a, link):
        wait_until(a.server.state.ready, 10, "readiness")
        before = _stored(api)
        with Watcher(api, a) as watcher:
            link.unavailable.update({f"PUT {SECRETS}", f"POST {SECRETS}"})
            time.sleep(6.0)
            failures = a.server.state.metrics.api_failures.labels("replace secrets")
            attempts = failures._value.get()
            link.unavailable.clear()
            wait_until(lambda: _stored(api) != before, 15, "the Secret to be renewed")
    print(f"\n{attempts:.0f} failed writes of the Secret in 6 s; "
          f"{len(watcher.serials)} certificates served")  # fmt: skip
    assert 1 <= attempts <= 8
    assert watcher.untrusted == [] and watcher.unready == 0
    assert len(watcher.serials) >= 3
