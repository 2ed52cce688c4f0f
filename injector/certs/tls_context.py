"""The server's TLS: a listening context whose certificate can be swapped while serving.

`ssl.SSLContext.load_cert_chain` on a live context with a bad pair leaves that context
without a usable key, and every later handshake fails. So each certificate gets a new,
fully validated context, and the listening context's SNI callback hands every handshake
the current one (with or without SNI). A pair that fails to load never replaces the one
being served, and connections already open keep the context they started with.
"""

from __future__ import annotations

import os
import ssl
import tempfile
import threading
from pathlib import Path

# TLS 1.2 at least (kube-apiserver's floor), forward-secret AEAD suites only.
CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


def server_context(
    cert_file: Path, key_file: Path, client_ca_file: Path | None = None
) -> ssl.SSLContext:
    """A server context for one certificate; raises ssl.SSLError/OSError on a bad pair.

    With `client_ca_file`, a client certificate is asked for and, when presented, must
    be signed by it (as kube-apiserver's is when given an admission kubeconfig with a
    client certificate); the handshake fails otherwise. One is not required at the TLS
    level, because the kubelet's probes present none: the app refuses /inject without
    one (server/edge.py tells it whether the connection carried one).
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(CIPHERS)
    context.set_alpn_protocols(["http/1.1"])
    context.load_cert_chain(str(cert_file), str(key_file))
    if client_ca_file is not None:
        context.load_verify_locations(str(client_ca_file))
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def context_from_pem(
    cert_pem: bytes, key_pem: bytes, scratch: Path, client_ca_file: Path | None = None
) -> ssl.SSLContext:
    """`server_context` for a pair held in memory. `load_cert_chain` only reads files, so
    the pair is written to a private (0600) file in `scratch`, loaded, and removed."""
    scratch.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=scratch, prefix=".loading-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as pair:
            pair.write(cert_pem.rstrip(b"\n") + b"\n" + key_pem)
        return server_context(Path(name), Path(name), client_ca_file)
    finally:
        os.unlink(name)


class ServingTLS:
    """Holds the certificate being served and the listening context that serves it."""

    def __init__(self, cert_file: Path, key_file: Path, client_ca_file: Path | None = None) -> None:
        self._install(
            server_context(cert_file, key_file, client_ca_file),
            server_context(cert_file, key_file, client_ca_file),
            client_ca_file,
        )

    @classmethod
    def from_pem(
        cls, cert_pem: bytes, key_pem: bytes, *, scratch: Path, client_ca_file: Path | None = None
    ) -> ServingTLS:
        """Serve a pair held in memory (see `context_from_pem`)."""
        tls = cls.__new__(cls)
        tls._install(
            context_from_pem(cert_pem, key_pem, scratch, client_ca_file),
            context_from_pem(cert_pem, key_pem, scratch, client_ca_file),
            client_ca_file,
        )
        return tls

    def _install(
        self, current: ssl.SSLContext, listening: ssl.SSLContext, client_ca: Path | None
    ) -> None:
        self._lock = threading.Lock()
        self._client_ca = client_ca
        self._current = current
        self.listening = listening
        self.listening.sni_callback = self._choose

    def _choose(
        self, connection: ssl.SSLObject, _server_name: str | None, _context: ssl.SSLContext
    ) -> None:
        connection.context = self._current

    def reload(self, cert_file: Path, key_file: Path) -> None:
        """Serve a new pair from the next handshake on; keep the old one if it is bad."""
        context = server_context(cert_file, key_file, self._client_ca)
        with self._lock:
            self._current = context

    def reload_pem(self, cert_pem: bytes, key_pem: bytes, scratch: Path) -> None:
        """`reload` for a pair held in memory; raises ssl.SSLError/OSError on a bad pair
        and keeps serving the old one."""
        context = context_from_pem(cert_pem, key_pem, scratch, self._client_ca)
        with self._lock:
            self._current = context
