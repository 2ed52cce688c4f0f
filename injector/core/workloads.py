"""Offline injection (`sidecar-injector inject`): the webhook's engine applied to files.

Workloads are injected through their Pod template; kinds that carry no Pod pass through
unchanged, so a whole multi-document manifest can be piped through.
"""

from __future__ import annotations

import copy
import io
from dataclasses import dataclass
from typing import Any

import jsonpatch
import yaml

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


def _describe(obj: dict[str, Any], namespace: str | None = None) -> str:
    """`Kind namespace/name` (kubectl's way of naming an object) when the namespace is
    known, else `Kind/name`."""
    metadata = obj["metadata"] if isinstance(obj.get("metadata"), dict) else {}
    name = metadata.get("name") or metadata.get("generateName") or "<unnamed>"
    namespace = metadata.get("namespace") or namespace
    kind = obj.get("kind", "<no kind>")
    return f"{kind} {namespace}/{name}" if namespace else f"{kind}/{name}"


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
        items, reports = [], []
        for number, item in enumerate(obj["items"], start=1):
            try:
                out, found = _walk(item, engine, ns_labels, namespace)
            except NotAnObject as err:
                raise NotAnObject(f"item {number} {err}") from None
            items.append(out)
            reports += found
        return {**obj, "items": items}, reports
    if kind in POD_PATHS:
        out, report = _inject_one(obj, engine, ns_labels, namespace)
        return out, [report]
    return obj, [Report(_describe(obj), "unchanged", "kind carries no Pod")]


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
    stream = io.StringIO(text)
    stream.name = source  # PyYAML names the input by its stream's name in errors
    for number, document in enumerate(strict_yaml.load_all(stream), start=1):
        if document is None:
            continue
        try:
            out, found = _walk(document, engine, ns_labels, namespace)
        except NotAnObject as err:
            raise NotAnObject(f"{source}: document {number} {err}") from None
        outputs.append(out)
        reports += found
    return yaml.safe_dump_all(outputs, sort_keys=False), reports
