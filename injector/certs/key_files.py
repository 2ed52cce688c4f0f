"""Keys and certificates on disk: a directory only its owner can write, files written
atomically (readers see the old or the new content, never half), and `ensure_dir`, the
first CA and serving pair in a directory.

What to write is decided elsewhere (`authority`, laid out by `ca_material`); this module
only makes the writes safe, for `directory_store` and for the tests and benchmark that
prepare a cert directory.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path

from injector.certs import issuing
from injector.certs.ca_material import CA_FILE, CA_KEY_FILE, CERT_FILE, KEY_FILE


def private_dir(directory: Path) -> None:
    """Create `directory` with mode 0700 (and any missing parent), or check that an
    existing one is writable by its owner only: whoever else can write into the
    directory that holds the keys can swap or capture them. PermissionError otherwise,
    saying what to do."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = stat.S_IMODE(directory.stat().st_mode)
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        message = (
            f"the certificate directory is writable by its group or others (mode {mode:04o});"
            " make it private (chmod 700) or choose another --cert-dir"
        )
        raise PermissionError(errno.EACCES, message, str(directory))


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write a file so readers see the old or the new content, never half of it.

    The content goes to a temporary file of a random name that is created (O_EXCL,
    O_NOFOLLOW) with mode 0600 and owned by us from its first byte, then renamed over
    `path`: no one can open it in between, or make us write through a link."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        # The error names the temporary file, which the user never chose: name the
        # directory instead.
        raise type(err)(err.errno, f"cannot write: {err.strerror}", str(path.parent)) from None
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            os.fchmod(file.fileno(), mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def ensure_dir(directory: Path, *, dns_names: Sequence[str], ips: Sequence[str]) -> bool:
    """Make `ca.crt`, `ca.key`, `tls.crt` and `tls.key` in `directory` unless a serving
    pair is there already. Returns True when new files were written.

    Keys are written with mode 0600. The CA key is kept so that the serving certificate
    can be renewed later without changing the CA that clients trust.
    """
    cert, key = directory / CERT_FILE, directory / KEY_FILE
    if cert.exists() and key.exists():
        return False
    private_dir(directory)
    ca = issuing.new_ca(dns_names=dns_names, ips=ips)
    serving = issuing.new_serving(ca, dns_names=dns_names, ips=ips)
    write_atomic(directory / CA_KEY_FILE, ca.key_pem, mode=0o600)
    write_atomic(directory / CA_FILE, ca.cert_pem)
    write_atomic(key, serving.key_pem, mode=0o600)
    write_atomic(cert, serving.cert_pem)
    return True
