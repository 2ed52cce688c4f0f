"""Rotation under load, end to end: a real uvicorn over TLS on 127.0.0.1 renews its
serving certificate (and its CA) every few seconds while clients keep sending
AdmissionReviews, verifying against the published bundle (the cert directory's ca.crt),
over kept-alive and fresh connections. Not one review may fail."""

from __future__ import annotations

import datetime
import time
from pathlib import Path

from support import certs as certsupport
from support import servers
from support.certs import fresh_client, keep_alive_client

from injector.certs import issuing, modes

RUN_SECONDS = 12.0


def _rotations(instance: servers.Running, kind: str) -> float:
    counter = instance.server.state.metrics.certificate_rotations.labels(kind)
    return float(counter._value.get())


def test_serving_certificate_rotations_under_load_fail_no_review(tmp_path: Path) -> None:
    flags = modes.Options(validity=datetime.timedelta(seconds=3), renew_before=1 / 3)
    with servers.running(tmp_path, certs=flags) as instance:
        first = certsupport.presented(instance.port)
        with certsupport.clients(
            instance.url, instance.ca, kept=keep_alive_client, fresh=fresh_client
        ) as seen:
            time.sleep(RUN_SECONDS)
        rotations = _rotations(instance, "serving")
        last = certsupport.presented(instance.port)
        ready = instance.server.state.ready()
    kept, fresh = seen["kept"], seen["fresh"]
    print(  # the figures the issue asks for (pytest -s shows them)
        f"\nrotation under load: {rotations:.0f} rotations, "
        f"{kept.requests + fresh.requests} reviews ({kept.requests} kept-alive, "
        f"{fresh.requests} fresh), {len(kept.failures) + len(fresh.failures)} failures, "
        f"{len(set(fresh.serials))} distinct serials seen by the fresh client"
    )
    assert kept.failures == [] and fresh.failures == []
    assert rotations >= 3
    assert kept.requests > 50 and fresh.requests > 20
    assert len(set(fresh.serials)) >= 2
    # New handshakes got new certificates; the open connection was never cut, so it kept
    # the certificate it started with, well past that certificate's own expiry.
    assert len(kept.serials) == 1 and kept.first is not None
    assert kept.first.not_valid_after_utc < issuing.now_utc()
    assert last.serial_number != first.serial_number
    assert ready


def _bundle_sizes(bundle: Path, stop_at: float) -> list[int]:
    sizes = []
    while time.monotonic() < stop_at:
        sizes.append(len(issuing.load_certificates(bundle.read_bytes())))
        time.sleep(0.05)
    return sizes


CA_CONFIG = """
certificates:
  validity: 2s
  caValidity: 8s
  renewBefore: 0.5
  publishGrace: 1s
"""


def test_a_client_trusting_the_published_bundle_never_fails_across_ca_rotations(
    tmp_path: Path,
) -> None:
    with servers.running(tmp_path, CA_CONFIG) as instance:
        first_ca = issuing.load_certificates(instance.ca.read_bytes())
        with certsupport.clients(instance.url, instance.ca, fresh=fresh_client) as seen:
            sizes = _bundle_sizes(instance.ca, time.monotonic() + 11)
        new_cas = _rotations(instance, "ca")
        final_ca = issuing.load_certificates(instance.ca.read_bytes())
    fresh = seen["fresh"]
    print(
        f"\nCA rotation: {new_cas:.0f} CAs issued, {fresh.requests} reviews, "
        f"{len(fresh.failures)} failures, issuers served in turn: {len(fresh.issuers)}"
    )
    assert fresh.failures == []
    assert fresh.requests > 20
    assert len(fresh.issuers) >= 3  # served from at least three CAs in turn
    assert new_cas >= 3  # the first CA and two rotations
    # Overlap: the bundle held the old and the new CA, and the old one was dropped after.
    assert max(sizes) == 2 and sizes[-1] >= 1 and 1 in sizes[sizes.index(2) :]
    assert first_ca[0] not in final_ca
