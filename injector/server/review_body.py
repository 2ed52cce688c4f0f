"""Reading a review's body within its limits, before anything is decoded.

The body must be JSON (Content-Type), at most `maxBodyBytes` (refused from its declared
Content-Length, or as soon as more arrives while streaming), and it holds bytes of a
budget shared by all the bodies being read (`BodyBudget`: a slow body holds the bytes it
sent, not a slot, so 64 connections sending a byte at a time cannot turn a real review
away). `deadline` is how long the caller lets the review take. A broken call raises
`BadCall` with its HTTP status; a client that goes away raises `Disconnected`. The app
(`app`) turns these into answers.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

JSON = "application/json"
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# kube-apiserver appends its own deadline to the URL, e.g. /inject?timeout=10s.
_TIMEOUT_PARAM = re.compile(rb"(?:^|&)timeout=([0-9]{1,4})s(?:&|$)")
# Time kept back from the caller's deadline to write the answer.
_ANSWER_MARGIN_SECONDS = 0.5


class BodyBudget:
    """Bytes of review bodies held at once, across connections. Every body reserves what
    it holds (its Content-Length up front, when declared) and gives it back when its
    review is answered; one that would pass `total` is refused with 503."""

    def __init__(self, total: int) -> None:
        self.total, self.held = total, 0

    def take(self, size: int) -> bool:
        if self.held + size > self.total:
            return False
        self.held += size
        return True

    def give(self, size: int) -> None:
        self.held -= size


class BadCall(Exception):
    """A call refused before any decision; carries its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class Disconnected(Exception):
    """The client went away before sending the whole body: nobody to answer."""


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {name.lower(): value for name, value in scope["headers"]}


_BUSY = "too many review bodies in flight; retry"


async def read_body(scope: Scope, receive: Receive, limit: int, held: list[int],
                    budget: BodyBudget) -> bytearray:  # fmt: skip
    """Read at most `limit` bytes, refusing a larger body before it is all read. What is
    reserved from `budget` is added to `held[0]`, for the caller to give back."""
    headers = _headers(scope)
    media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    if media_type != JSON.encode():
        raise BadCall(415, "Content-Type must be application/json")
    declared = headers.get(b"content-length", b"")
    if declared.isdigit() and int(declared) > limit:
        raise BadCall(413, f"body larger than {limit} bytes")
    if declared.isdigit():
        if not budget.take(int(declared)):
            raise BadCall(503, _BUSY)
        held[0] += int(declared)
    # One buffer, handed to the decoder as it is (orjson reads a bytearray): no copy.
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected
        body += message.get("body", b"")
        if len(body) > limit:
            raise BadCall(413, f"body larger than {limit} bytes")
        if len(body) > held[0]:
            if not budget.take(len(body) - held[0]):
                raise BadCall(503, _BUSY)
            held[0] = len(body)
        if not message.get("more_body", False):
            break
    if not body:
        raise BadCall(400, "empty body: expected an AdmissionReview")
    return body


def deadline(scope: Scope, configured: float) -> float:
    """Seconds this review may take: ours, or less if the caller will give up sooner."""
    match = _TIMEOUT_PARAM.search(scope.get("query_string", b""))
    if match is None:
        return configured
    return max(0.1, min(configured, int(match[1]) - _ANSWER_MARGIN_SECONDS))
