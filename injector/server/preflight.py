"""What `serve` checks before it writes a certificate or listens: every input a person
gave, so that a mistake is one line naming the flag, and nothing is left half done (a CA
written into --cert-dir for a server that then cannot start).

- `--client-ca-file`: a readable file of PEM certificates;
- `--host` and `--port`: an address of this machine, and a port free on it (bound once
  and released; a port taken between this check and uvicorn's bind is uvicorn's error).
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path

from injector.certs import issuing
from injector.core.config import ConfigError


def client_ca(path: Path | None) -> None:
    """ConfigError naming --client-ca-file unless it holds PEM certificates."""
    if path is None:
        return
    flag = f"--client-ca-file {path}"
    if path.is_dir():
        raise ConfigError(f"{flag}: a directory, not a PEM certificate file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{flag}: no such file") from None
    except OSError as err:
        raise ConfigError(f"{flag}: cannot read: {err.strerror}") from None
    try:
        issuing.load_certificates(data)
    except ValueError:
        raise ConfigError(f"{flag}: not a PEM certificate file") from None


def address(host: str, port: int) -> None:
    """ConfigError naming --host or --port unless the server can listen there."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as err:
        raise ConfigError(
            f"--host {host}: not an address of this machine ({err.strerror})"
        ) from None
    family, kind, proto, _name, where = found[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(where)
        except OSError as err:
            raise ConfigError(_bind_problem(err, host, port)) from None


def _bind_problem(err: OSError, host: str, port: int) -> str:
    if err.errno == errno.EADDRINUSE:
        return f"--port {port}: in use on {host}"
    if err.errno == errno.EADDRNOTAVAIL:
        return f"--host {host}: not an address of this machine"
    if err.errno == errno.EACCES:
        return f"--port {port}: not permitted here (ports below 1024 need privileges)"
    return f"--host {host} --port {port}: cannot listen: {err.strerror}"
