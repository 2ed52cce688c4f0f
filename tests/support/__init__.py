"""Helpers shared by the tests: building reviews, applying answers, validating Pods."""

from __future__ import annotations

import base64
import copy
import functools
from typing import Any

import jsonpatch
import jsonschema
import orjson
import referencing
from kubernetes_validate import utils as kv

# Mutated Pods are validated against the official schema of this Kubernetes version
# (strict: unknown fields are errors). It has native sidecars
# (initContainers[].restartPolicy) and the current shape of resourceClaims.
KUBERNETES_VERSION = "1.33"


def review(
    pod: Any,
    *,
    uid: str = "0b3c1a5e-7e3a-4d7e-9f5e-1c2d3e4f5a6b",
    namespace: str = "shop",
    operation: str = "CREATE",
    api_version: str = "admission.k8s.io/v1",
    kind: str = "Pod",
    group: str = "",
    sub_resource: str | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """An AdmissionReview as kube-apiserver sends it."""
    request: dict[str, Any] = {
        "uid": uid,
        "kind": {"group": group, "version": "v1", "kind": kind},
        "resource": {"group": group, "version": "v1", "resource": kind.lower() + "s"},
        "requestKind": {"group": group, "version": "v1", "kind": kind},
        "requestResource": {"group": group, "version": "v1", "resource": kind.lower() + "s"},
        "namespace": namespace,
        "operation": operation,
        "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
        "object": pod,
        "oldObject": None,
        "dryRun": dry_run,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
    }
    if sub_resource:
        request["subResource"] = sub_resource
    # In kube-apiserver's order (Go writes struct fields in declaration order).
    return {"kind": "AdmissionReview", "apiVersion": api_version, "request": request}


def patch_of(answer: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The decoded patch of an answer, or None when it carries none."""
    response = answer["response"]
    if "patch" not in response:
        assert "patchType" not in response
        return None
    assert response["patchType"] == "JSONPatch"
    ops = orjson.loads(base64.b64decode(response["patch"], validate=True))
    assert isinstance(ops, list) and ops, "an empty patch must never be sent"
    return ops


def apply(pod: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    """The Pod after the answer's patch, applied strictly; the input is left alone."""
    ops = patch_of(answer)
    original = copy.deepcopy(pod)
    result = pod if ops is None else jsonpatch.apply_patch(pod, ops)
    assert pod == original, "applying must not change the input"
    return copy.deepcopy(result)


def injected(engine: Any, pod: dict[str, Any], namespace: str = "shop") -> dict[str, Any]:
    """The Pod as `engine` injects it (in `namespace`, no Namespace object): it must be
    injected; the input is left alone."""
    outcome = engine.inject(pod, namespace=namespace, ns=None)
    assert outcome.result == "injected", (outcome.reasons, outcome.message)
    return dict(jsonpatch.apply_patch(pod, outcome.ops or []))


@functools.cache
def _pod_validator() -> jsonschema.Draft202012Validator:
    directory = f"kubernetes-json-schema/v{KUBERNETES_VERSION}.0-local-strict"
    schema = kv.schema_contents(f"{directory}/pod-v1.json", KUBERNETES_VERSION)
    definitions = kv.schema_contents(f"{directory}/_definitions.json", KUBERNETES_VERSION)
    registry: referencing.Registry[Any] = referencing.Registry()
    registry = referencing.Resource.from_contents(schema) @ registry
    registry = referencing.Resource.from_contents(definitions) @ registry
    return jsonschema.Draft202012Validator(schema, registry=registry)


def validate_pod(pod: dict[str, Any]) -> None:
    """Fail unless `pod` is a valid Pod for the pinned Kubernetes version, and its
    container names are unique (which the schema cannot say)."""
    _pod_validator().validate({"apiVersion": "v1", "kind": "Pod", **pod})
    spec = pod["spec"]
    names = [c["name"] for key in ("initContainers", "containers") for c in spec.get(key) or []]
    assert len(names) == len(set(names)), f"duplicate container names: {names}"
    volumes = [v["name"] for v in spec.get("volumes") or []]
    assert len(volumes) == len(set(volumes)), f"duplicate volume names: {volumes}"
