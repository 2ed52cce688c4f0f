"""One admission call, from decoded body to AdmissionReview answer. No HTTP here.

`handle` is the whole admission contract: the HTTP edge decodes the body, calls it, and
writes back what it returns. It also reports what it decided, for metrics and logs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from injector.core import names, policy, review, workload_identity
from injector.core.engine import MEMO_MAX_POD_BYTES, Engine, Outcome

log = logging.getLogger("injector.handler")

NamespaceLookup = Callable[[str], policy.Namespace | None]


def no_cluster(_name: str) -> policy.Namespace | None:
    """The namespace lookup without a cluster: nothing is known."""
    return None


@dataclass(frozen=True)
class OwnerReference:
    """Who made the Pod: the object Events about it are reported on."""

    api_version: str
    kind: str
    name: str
    uid: str


def controller_of(pod: Any) -> OwnerReference | None:
    """The Pod's controlling owner, when it names one completely."""
    ref = workload_identity.controller_ref(pod.get("metadata") if isinstance(pod, dict) else None)
    if ref is None:
        return None
    fields = [ref.get(key) for key in ("apiVersion", "kind", "name", "uid")]
    if all(isinstance(field, str) and field for field in fields):
        return OwnerReference(*(str(field) for field in fields))
    return None


@dataclass(frozen=True)
class Handled:
    """An answer plus what it means, for the edge's metrics and logs."""

    answer: dict[str, Any]
    result: str  # injected | skipped | denied | ignored
    reasons: tuple[str, ...]
    uid: str
    namespace: str
    name: str
    # The Pod's controller (its ownerReference with controller: true), for Events.
    owner: OwnerReference | None = None
    # A dry run must have no side effect (no Event): the webhook is NoneOnDryRun.
    dry_run: bool = False


def _pod_name(pod: Any, request: review.Request) -> str:
    metadata = pod.get("metadata") if isinstance(pod, dict) else None
    if isinstance(metadata, dict):
        for key in ("name", "generateName"):
            if isinstance(metadata.get(key), str) and metadata[key]:
                return str(metadata[key])
    return request.get("name", "")


def _is_pod_create(request: review.Request) -> bool:
    kind = request["kind"]
    return (
        request["operation"] == "CREATE"
        and kind["group"] == ""
        and kind["kind"] == "Pod"
        and not request.get("subResource")
    )


def _respond(outcome: Outcome) -> review.Response:
    warnings = [f"sidecar-injector: {w}" for w in outcome.warnings]
    if outcome.result == "denied":
        return review.denied(outcome.message or "denied", warnings=warnings)
    if outcome.result == "skipped":
        sentences = "; ".join(policy.SENTENCES[r] for r in outcome.reasons)
        if outcome.warnings or policy.NOTEWORTHY.intersection(outcome.reasons):
            warnings.append(f"sidecar-injector: sidecar not injected: {sentences}")
        return review.allowed(warnings=warnings)
    return review.patched(outcome.patch, warnings=warnings)


def handle(
    body: Any,
    *,
    engine: Engine,
    namespaces: NamespaceLookup = no_cluster,
    body_size: int | None = None,
    raw: bytes | bytearray | None = None,
    owners: bool = True,
) -> Handled:
    """Answer one decoded AdmissionReview; raises `review.ReviewError` for a bad call.

    `body_size` (bytes on the wire), when known, spares the engine from measuring a
    large Pod to decide whether its outcome is worth remembering; `raw`, the body as
    received, gives that size and keys the remembered outcome by its bytes (when laid
    out as kube-apiserver writes it). `owners=False` skips looking up the Pod's
    controller when nothing reports on it (no Event sender)."""
    api_version, request = review.parse(body)
    uid = request["uid"]
    pod = request.get("object")
    name = _pod_name(pod, request)
    if not _is_pod_create(request):
        answer = review.finish(api_version, uid, review.allowed())
        return Handled(answer, "ignored", (policy.NOT_POD_CREATE,), uid, "", name)
    # A controller-made Pod has neither metadata.namespace nor metadata.name yet.
    metadata = pod.get("metadata") if isinstance(pod, dict) else None
    namespace = request.get("namespace") or (
        metadata.get("namespace", "") if isinstance(metadata, dict) else ""
    )
    namespace = namespace if isinstance(namespace, str) else ""
    if raw is not None:
        body_size = len(raw)
    remember = body_size is None or body_size <= MEMO_MAX_POD_BYTES
    content = review.after_uid(raw, api_version, uid) if raw is not None and remember else None
    try:
        outcome = engine.inject(
            pod, namespace=namespace, ns=namespaces(namespace), remember=remember, content=content
        )
        response = _respond(outcome)
    except Exception:
        # A bug of ours must not become a 500 with a stack trace: refuse this Pod, log it.
        log.exception("injection failed", extra={"uid": uid, "namespace": namespace})
        outcome = Outcome("denied", [policy.INTERNAL_ERROR])
        message = f"sidecar-injector failed on this Pod (uid {uid}); see the injector's logs"
        response = review.denied(message, code=500)
    audit = {names.AUDIT_DECISION: outcome.result, names.AUDIT_REASONS: ",".join(outcome.reasons)}
    answer = review.finish(api_version, uid, response, audit)
    return Handled(
        answer,
        outcome.result,
        tuple(outcome.reasons),
        uid,
        namespace,
        name,
        owner=controller_of(pod) if owners else None,
        dry_run=request.get("dryRun") is True,
    )
