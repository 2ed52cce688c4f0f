"""Helpers for the certificate tests: what a server presents in a real handshake, a
client that keeps sending AdmissionReviews and counts failures, waiting for a condition,
and a replica's own link to the fake API that a test can cut (a partition)."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509

from injector.cluster import kubeapi
from support import http_cases

BODY = http_cases.load_fixture("create-pod")


def presented(port: int) -> x509.Certificate:
    """The certificate the server on 127.0.0.1:`port` presents now (not verified)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _served(response: httpx.Response) -> x509.Certificate:
    stream = response.extensions["network_stream"]
    der = stream.get_extra_info("ssl_object").getpeercert(True)
    return x509.load_der_x509_certificate(der)


@dataclass
class Tally:
    """What one client saw: requests sent, failures (with why), serials served."""

    requests: int = 0
    failures: list[str] = field(default_factory=list)
    serials: list[int] = field(default_factory=list)
    issuers: list[str] = field(default_factory=list)
    first: x509.Certificate | None = None

    def record(self, response: httpx.Response) -> None:
        self.requests += 1
        body = response.json() if response.status_code == 200 else {}
        if response.status_code != 200 or "patch" not in body.get("response", {}):
            self.failures.append(f"HTTP {response.status_code}")
        served = _served(response)
        self.first = self.first or served
        if not self.serials or self.serials[-1] != served.serial_number:
            self.serials.append(served.serial_number)
        issuer = served.issuer.rfc4514_string()
        if not self.issuers or self.issuers[-1] != issuer:
            self.issuers.append(issuer)


def keep_alive_client(url: str, bundle: Path, stop: threading.Event, tally: Tally) -> None:
    """One connection for the whole run, as kube-apiserver keeps its connections."""
    with httpx.Client(verify=ssl.create_default_context(cafile=str(bundle)), timeout=10) as http:
        while not stop.is_set():
            try:
                tally.record(http.post(f"{url}/inject", json=BODY))
            except httpx.HTTPError as err:
                tally.requests += 1
                tally.failures.append(repr(err))


def fresh_client(url: str, bundle: Path, stop: threading.Event, tally: Tally) -> None:
    """A new connection (and a fresh read of the published bundle) for every review."""
    while not stop.is_set():
        try:
            verify = ssl.create_default_context(cafile=str(bundle))
            with httpx.Client(verify=verify, timeout=10) as http:
                tally.record(http.post(f"{url}/inject", json=BODY))
        except (httpx.HTTPError, ssl.SSLError) as err:
            tally.requests += 1
            tally.failures.append(repr(err))


@contextlib.contextmanager
def clients(
    url: str, bundle: Path, **kinds: Callable[[str, Path, threading.Event, Tally], None]
) -> Iterator[Mapping[str, Tally]]:
    """Run each client on a thread for the body of the `with`; join them after it."""
    stop = threading.Event()
    tallies = {name: Tally() for name in kinds}
    threads = [
        threading.Thread(target=run, args=(url, bundle, stop, tallies[name]), daemon=True)
        for name, run in kinds.items()
    ]
    for thread in threads:
        thread.start()
    try:
        yield tallies
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=20)


class Link:
    """One replica's connection to the shared fake API: records its own calls and can be
    cut (every call then fails as an unreachable API server would), or refuse some verbs
    (as RBAC or an admission policy would, with 403), or answer some calls 503."""

    def __init__(self, api: Any) -> None:
        self.api, self.cut, self.calls = api, False, list[tuple[str, str]]()
        self.refused: set[str] = set()
        # Calls answered 503, as by an overloaded server: "VERB /path" prefixes.
        self.unavailable: set[str] = set()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        if self.cut:
            raise kubeapi.ApiError(0, "Unreachable", "partitioned from the API server")
        if method in self.refused:
            raise kubeapi.ApiError(403, "Forbidden", f"{method} refused by the test")
        if any(f"{method} {path}".startswith(call) for call in self.unavailable):
            raise kubeapi.ApiError(503, "ServiceUnavailable", f"{method} not served now")
        self.calls.append((method, path))
        return self.api.request(method, path, **kwargs)

    def stream(self, path: str, *, query: Mapping[str, str]) -> Iterator[dict[str, Any]]:
        if self.cut:
            raise kubeapi.ApiError(0, "Unreachable", "partitioned from the API server")
        yield from self.api.stream(path, query=query)
        if self.cut:  # cut while the watch was open: it ends in an error, not cleanly
            raise kubeapi.ApiError(0, "Unreachable", "partitioned from the API server")

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.calls if m in ("POST", "PUT", "PATCH")]
