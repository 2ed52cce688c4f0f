"""What failed, in words, when a request to the API server got no answer at all.

urllib3's exceptions read like `HTTPSConnectionPool(host=..., port=443): Max retries
exceeded with url: ... (Caused by NewConnectionError(...))`: a person must dig for the
cause. `describe` says it in one short sentence that names the server and the limit.
"""

from __future__ import annotations

import re

import urllib3

_ERRNO = re.compile(r"\[Errno -?[0-9]+\] ([^'\")\]]+)")
_OPENSSL_SOURCE = re.compile(r"\s*\(_ssl\.c:[0-9]+\)")


def describe(err: Exception, host: str, timeouts: tuple[float, float]) -> str:
    """One sentence for `err`, raised by urllib3 talking to the API server at `host`
    with (connect, read) `timeouts` in seconds."""
    errors = urllib3.exceptions
    cause = _ERRNO.search(str(err))
    why = cause[1].strip().lower() if cause else type(err).__name__
    if isinstance(err, errors.NameResolutionError):
        return f"cannot resolve the API server's host name ({host})"
    if isinstance(err, errors.ConnectTimeoutError) and cause is None:
        return f"no connection to the API server at {host} within {timeouts[0]:g}s"
    if isinstance(err, errors.NewConnectionError | errors.ConnectTimeoutError):
        return f"cannot connect to the API server at {host}: {why}"
    if isinstance(err, errors.ReadTimeoutError):
        return f"the API server at {host} sent no answer within {timeouts[1]:g}s"
    if isinstance(err, errors.ProtocolError):
        return f"the API server at {host} closed the connection ({why})"
    return f"the API server at {host} could not be reached ({type(err).__name__})"


def tls(reason: str, host: str) -> str:
    """One sentence for a failed TLS handshake; `reason` is the client's text for it
    (its last line is OpenSSL's, e.g. "[SSL: CERTIFICATE_VERIFY_FAILED] ...")."""
    lines = [line for line in reason.splitlines() if line.strip()]
    why = _OPENSSL_SOURCE.sub("", lines[-1]).strip() if lines else "no detail"
    return f"TLS with the API server at {host} failed: {why}"
