"""What failed when a command talked to the API server, in words: "cannot reach the API
server at 10.0.0.1:6443: connection refused", not the client library's
`0 Unreachable: HTTPSConnectionPool(...)`.

The client seam (`cluster.transport`) reports an unreachable server as `ApiError` with
status 0 and the library's text; this module reads that text for the cause a person can
act on, and says so generically when it knows none.
"""

from __future__ import annotations

import re

from injector.cluster.kubeapi import ApiError

# (text in the library's message, lowercased; what it means)
_CAUSES = (
    ("connection refused", "connection refused (is the address in the kubeconfig right?)"),
    ("timed out", "no answer in time"),
    ("name or service not known", "its host name does not resolve"),
    ("nodename nor servname", "its host name does not resolve"),
    ("temporary failure in name resolution", "its host name does not resolve"),
    ("certificate verify failed", "its certificate is not trusted by the kubeconfig's CA"),
    ("network is unreachable", "no route to it"),
    ("no route to host", "no route to it"),
    ("connection reset", "it closed the connection"),
    ("remotedisconnected", "it closed the connection"),
)
_HOST = re.compile(r"host='([^']+)', port=(\d+)")


def in_words(err: ApiError) -> str:
    """One line for a person: what failed, and why when it is known."""
    if err.status != 0:
        return f"the API server answered {err.status} {err.reason}: {err.message}"
    detail = err.message.lower()
    cause = next((words for text, words in _CAUSES if text in detail), "the connection failed")
    where = _HOST.search(err.message)
    at = f" at {where.group(1)}:{where.group(2)}" if where else ""
    return f"cannot reach the API server{at}: {cause}"
