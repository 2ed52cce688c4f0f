"""Starting the real server (uvicorn over TLS on 127.0.0.1) for a test, and stopping it."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from injector.certs import modes
from injector.cluster import kubeapi
from injector.server import process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Running:
    url: str
    port: int
    ca: Path
    server: process.DrainingServer

    @property
    def config(self) -> uvicorn.Config:
        return self.server.config

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))

    def tls_socket(self) -> ssl.SSLSocket:
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        return self.client_context().wrap_socket(raw, server_hostname="127.0.0.1")


@contextlib.contextmanager
def running(
    directory: Path,
    config_text: str = "",
    client_ca: Path | None = None,
    *,
    cluster: kubeapi.Cluster | None = None,
    certs: modes.Options | None = None,
    register: bool = False,
    config_file: Path | None = None,
    istio_namespace: str | None = None,
) -> Iterator[Running]:
    """Serve in a thread of this process; stop and join on exit. Certificates are kept
    in `directory`/certs unless `cluster` (e.g. over tests/support/fake_kube.py) is given; the
    environment is never asked for a cluster. With `register`, the server registers
    itself with the cluster at its own URL (as `serve --webhook-url` does). A given
    `config_file` is served as it is (`config_text` is then not written);
    `istio_namespace` is `serve --istio-namespace`."""
    cert_dir = directory / "certs"
    if config_file is None:
        config_file = directory / "config.yaml"
        config_file.write_text(config_text)
    port = free_port()
    options = process.Options(
        host="127.0.0.1",
        port=port,
        cert_dir=cert_dir,
        config_file=config_file,
        client_ca_file=client_ca,
        certificates=certs or modes.Options(),
        webhook_url=f"https://127.0.0.1:{port}/inject" if register else None,
        istio_namespace=istio_namespace,
    )
    instance = process.build(options, cluster=cluster)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not instance.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield Running(f"https://127.0.0.1:{port}", port, cert_dir / "ca.crt", instance)
    finally:
        instance.should_exit = True
        thread.join(timeout=30)
        assert not thread.is_alive(), "server did not stop"
