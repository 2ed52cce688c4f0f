"""Offline injection (`sidecar-injector inject`): the webhook's engine applied to files.

Workloads are injected through their Pod template; kinds that carry no Pod pass through
unchanged, so a whole multi-document manifest can be piped through.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import jsonpatch

from injector.core import policy, strict_yaml, workload_identity
from injector.core.engine import Engine

# Where each kind keeps the Pod it makes (an empty path: the object is the Pod).
POD_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": (),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    # OpenShift's, which Istio's kube-inject also injects.
    "DeploymentConfig": ("spec", "template"),
}


class NotAnObject(ValueError):
    """A document of the input is not a Kubernetes object (no mapping with a kind);
    the message names the document (and the List item)."""


@dataclass
class Report:
    """One line of the per-object report."""

    object: str
    result: str  # injected | skipped | denied | unchanged
    detail: str

    def __str__(self) -> str:
        return f"{self.object}: {self.result}" + (f" ({self.detail})" if self.detail else "")


# Kinds that have no namespace (the common ones of `kubectl api-resources
# --namespaced=false`): their report line names them without one.
CLUSTER_SCOPED = frozenset(
    {
        "Namespace", "Node", "PersistentVolume", "StorageClass", "CSIDriver", "CSINode",
        "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "APIService",
        "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "PriorityClass",
        "RuntimeClass", "IngressClass", "VolumeAttachment", "CertificateSigningRequest",
        "FlowSchema", "PriorityLevelConfiguration",
    }
)  # fmt: skip


def _describe(obj: dict[str, Any], namespace: str) -> str:
    """`Kind namespace/name`, as kubectl names an object (`Kind name` for a kind that has
    no namespace); an object that names no namespace is in `namespace` (`-n`)."""
    metadata = obj["metadata"] if isinstance(obj.get("metadata"), dict) else {}
    name = metadata.get("name") or metadata.get("generateName") or "<unnamed>"
    kind = obj.get("kind", "<no kind>")
    if kind in CLUSTER_SCOPED:
        return f"{kind} {name}"
    return f"{kind} {metadata.get('namespace') or namespace}/{name}"


def _inject_one(
    obj: dict[str, Any], engine: Engine, ns_labels: dict[str, str] | None, namespace: str
) -> tuple[dict[str, Any], Report]:
    path = POD_PATHS[obj["kind"]]
    holder: Any = obj
    for key in path:
        holder = holder.get(key) if isinstance(holder, dict) else None
    metadata = obj["metadata"] if isinstance(obj.get("metadata"), dict) else {}
    ns_name = metadata.get("namespace") or namespace
    label = _describe(obj, ns_name)
    if not isinstance(holder, dict):
        return obj, Report(label, "denied", f"no Pod template at {'.'.join(path)}")
    ns = policy.Namespace(ns_name, ns_labels) if ns_labels is not None else None
    workload = workload_identity.of_object(obj)
    outcome = engine.inject(holder, namespace=ns_name, ns=ns, workload=workload)
    notes = "; ".join(outcome.warnings)
    if outcome.result == "denied":
        return obj, Report(label, "denied", "; ".join(filter(None, [outcome.message, notes])))
    if outcome.result == "skipped":
        why = ", ".join(f"{r}: {policy.SENTENCES[r]}" for r in outcome.reasons)
        return obj, Report(label, "skipped", "; ".join(filter(None, [why, notes])))
    injected = jsonpatch.apply_patch(holder, outcome.ops or [])
    result = copy.copy(obj)
    if not path:
        result = injected
    else:
        parent = result
        for key in path[:-1]:
            parent[key] = copy.copy(parent[key])
            parent = parent[key]
        parent[path[-1]] = injected
    return result, Report(
        label, "injected", "; ".join(filter(None, [",".join(outcome.reasons), notes]))
    )


def _walk(
    obj: Any, engine: Engine, ns_labels: dict[str, str] | None, namespace: str
) -> tuple[Any, list[Report]]:
    """Return the transformed object and a report line per object that was looked at.
    Raises NotAnObject (naming the List item) for something that is not an object."""
    if not isinstance(obj, dict) or not isinstance(obj.get("kind"), str):
        what = "a mapping without a kind" if isinstance(obj, dict) else f"a {_yaml_kind(obj)}"
        raise NotAnObject(f"is not a Kubernetes object ({what})")
    kind = obj["kind"]
    if kind.endswith("List") and isinstance(obj.get("items"), list):
        items: list[Any] = []
        reports: list[Report] = []
        for number, item in enumerate(obj["items"], start=1):
            try:
                out, found = _walk(item, engine, ns_labels, namespace)
            except NotAnObject as err:
                raise NotAnObject(f"item {number} {err}") from None
            items.append(out)
            reports += found
        if all(out is item for out, item in zip(items, obj["items"], strict=True)):
            return obj, reports
        return {**obj, "items": items}, reports
    if kind in POD_PATHS:
        out, report = _inject_one(obj, engine, ns_labels, namespace)
        return out, [report]
    return obj, [Report(_describe(obj, namespace), "unchanged", "kind carries no Pod")]


def _yaml_kind(value: Any) -> str:
    """What YAML made of a document that is not a mapping, in words."""
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "plain string"
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, int | float) else "scalar"


def inject_text(
    text: str,
    engine: Engine,
    *,
    ns_labels: dict[str, str] | None = None,
    namespace: str = "default",
    source: str = "<stdin>",
) -> tuple[str, list[Report]]:
    """Inject every Pod-carrying object of a (multi-document) YAML text.

    Raises yaml.YAMLError when the text is not YAML; its message names `source`.
    Raises NotAnObject, naming `source` and the document, for a document that is not
    a Kubernetes object (a list of scalars, a plain string). Empty documents are dropped.
    """
    outputs, reports = [], []
    documents = strict_yaml.documents(text, name=source)
    for number, (document, written) in enumerate(documents, start=1):
        if document is None:
            continue
        try:
            out, found = _walk(document, engine, ns_labels, namespace)
        except NotAnObject as err:
            raise NotAnObject(f"{source}: document {number} {err}") from None
        # An object left as it was is passed through as it was written.
        outputs.append(written.rstrip() + "\n" if out is document else strict_yaml.dump(out))
        reports += found
    return "---\n".join(outputs), reports
