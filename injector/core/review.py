"""AdmissionReview wire types, envelope parsing and the only response constructors.

Mind the two ways an error is reported. A call that is not a usable AdmissionReview
raises `ReviewError`, which the HTTP edge turns into a 4xx (kube-apiserver then applies
the webhook's failurePolicy). A well-formed review that we refuse is answered normally,
with `allowed: false` and a `status.message` a person can act on.

`finish` is the one place that echoes the uid and apiVersion and encodes the patch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, NotRequired, TypedDict

import orjson
import pybase64

API_VERSIONS = frozenset({"admission.k8s.io/v1", "admission.k8s.io/v1beta1"})
MAX_UID_LENGTH = 1024
# The API server keeps warnings short: 120 characters advised, 256 may be cut.
MAX_WARNING_LENGTH = 256
MAX_WARNINGS = 16

Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]


class GroupVersionKind(TypedDict):
    group: str
    version: str
    kind: str


class Request(TypedDict):
    uid: str
    kind: GroupVersionKind
    operation: Operation
    namespace: NotRequired[str]
    name: NotRequired[str]
    subResource: NotRequired[str]
    object: NotRequired[Any]
    dryRun: NotRequired[bool]


class Status(TypedDict):
    code: int
    message: str


class Response(TypedDict):
    uid: str
    allowed: bool
    status: NotRequired[Status]
    patchType: NotRequired[Literal["JSONPatch"]]
    patch: NotRequired[str]
    warnings: NotRequired[list[str]]
    auditAnnotations: NotRequired[dict[str, str]]


# The start of an AdmissionReview as kube-apiserver writes it: Go's encoding/json puts
# struct fields in declaration order (TypeMeta's kind and apiVersion, then request, whose
# first field is uid).
_LAID_OUT = {
    version: b'{"kind":"AdmissionReview","apiVersion":"%s","request":{"uid":"' % version.encode()
    for version in sorted(API_VERSIONS)
}
# What encoding/json escapes in a string besides what is not printable (control
# characters, U+2028, U+2029): a uid holding any is not written as its text.
_ESCAPED = frozenset('"\\<>&')


class ReviewError(ValueError):
    """The call is not a usable AdmissionReview (answered with HTTP 400)."""


def parse(body: Any) -> tuple[str, Request]:
    """Check the envelope of a decoded body; return its apiVersion and request."""
    if not isinstance(body, dict):
        raise ReviewError("the body must be a JSON object (an AdmissionReview)")
    api_version = body.get("apiVersion")
    if body.get("kind") != "AdmissionReview" or not (
        isinstance(api_version, str) and api_version in API_VERSIONS
    ):
        raise ReviewError("expected kind AdmissionReview of admission.k8s.io/v1 or v1beta1")
    request = body.get("request")
    if not isinstance(request, dict):
        raise ReviewError("request is missing")
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid or len(uid) > MAX_UID_LENGTH:
        raise ReviewError("request.uid must be a non-empty string")
    kind = request.get("kind")
    if not isinstance(kind, dict) or not all(
        isinstance(kind.get(k), str) for k in ("group", "version", "kind")
    ):
        raise ReviewError("request.kind must name a group, version and kind")
    if not isinstance(request.get("operation"), str) or request["operation"] not in (
        "CREATE",
        "UPDATE",
        "DELETE",
        "CONNECT",
    ):
        raise ReviewError("request.operation must be CREATE, UPDATE, DELETE or CONNECT")
    for key in ("namespace", "name", "subResource"):
        if not isinstance(request.get(key, ""), str):
            raise ReviewError(f"request.{key} must be a string")
    if request["operation"] in ("CREATE", "UPDATE") and request.get("object") is None:
        raise ReviewError(f"request.object is missing for {request['operation']}")
    return body["apiVersion"], request  # type: ignore[return-value]


def after_uid(raw: bytes | bytearray, api_version: str, uid: str) -> bytes | None:
    """The body after its request's uid, when the body is laid out as kube-apiserver
    writes it (`_LAID_OUT`, then the uid as plain text); None for any other body.

    Two bodies with equal results are the same bytes except the uid's text, so they
    decode to the same request and the same Pod: the engine remembers outcomes by this
    instead of serializing the decoded Pod again (31 µs for 60 KB)."""
    prefix = _LAID_OUT.get(api_version)
    if prefix is None or not raw.startswith(prefix):
        return None
    if not uid.isprintable() or not _ESCAPED.isdisjoint(uid):
        return None
    written = uid.encode() + b'"'
    end = len(prefix) + len(written)
    if raw[len(prefix) : end] != written:
        return None
    return bytes(memoryview(raw)[end:])


def allowed(*, warnings: Sequence[str] = ()) -> Response:
    response: Response = {"uid": "", "allowed": True}
    if warnings:
        response["warnings"] = list(warnings)
    return response


def denied(message: str, *, code: int = 400, warnings: Sequence[str] = ()) -> Response:
    response: Response = {"uid": "", "allowed": False, "status": {"code": code, "message": message}}
    if warnings:
        response["warnings"] = list(warnings)
    return response


def encode_patch(ops: list[dict[str, Any]]) -> str | None:
    """The `patch` field: base64 of the JSON Patch document; None for no operations (an
    empty patch is never sent).

    pybase64 (SIMD) rather than the standard library's byte-by-byte encoder, which was a
    tenth of a small Pod's whole review; its string comes out without a decode."""
    return pybase64.b64encode_as_string(orjson.dumps(ops)) if ops else None


def decode_patch(encoded: str) -> list[dict[str, Any]]:
    """The operations of an `encode_patch` value."""
    ops: list[dict[str, Any]] = orjson.loads(pybase64.b64decode(encoded, validate=True))
    return ops


def patched(encoded: str | None, *, warnings: Sequence[str] = ()) -> Response:
    """An allowed response carrying the patch `encode_patch` made, if there is one."""
    response = allowed(warnings=warnings)
    if encoded:
        response["patchType"] = "JSONPatch"
        response["patch"] = encoded
    return response


def _clean_warnings(warnings: list[str]) -> list[str]:
    return [
        w if len(w) <= MAX_WARNING_LENGTH else w[: MAX_WARNING_LENGTH - 3] + "..."
        for w in warnings[:MAX_WARNINGS]
    ]


def finish(
    api_version: str, uid: str, response: Response, audit: dict[str, str] | None = None
) -> dict[str, Any]:
    """Wrap a response into the AdmissionReview answer for a request."""
    response["uid"] = uid
    if "warnings" in response:
        response["warnings"] = _clean_warnings(response["warnings"])
    if audit:
        response["auditAnnotations"] = audit
    return {"apiVersion": api_version, "kind": "AdmissionReview", "response": response}
