"""Whether an object is valid on a given Kubernetes version, over the supported range.

Two checks, because the official schema alone is not enough:
- the version's OpenAPI schema in strict mode (an unknown field is an error), as
  kubernetes-validate ships it: it catches a field the version does not have at all;
- the fields that a version already has in its schema but behind a feature gate that is
  off by default (alpha): such an API server drops the field silently on create, so an
  object that passes the schema still does not do what it says. `GATED` lists the ones
  this project meets, each with the first version where it is on by default.

The schemas are loaded once per version and file (a version's definitions are 1-2 MB).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jsonschema
import referencing
from kubernetes_validate import utils as kv

Version = tuple[int, int]

# The platform runs Kubernetes 1.25-1.27 and the project supports 1.25 to the newest.
OLDEST: Version = (1, 25)


def parse(text: str) -> Version:
    """'1.28', '1.28.0' or 'v1.28' as (1, 28)."""
    found = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", text.strip())
    if found is None:
        raise ValueError(f"not a Kubernetes version: {text!r}")
    return int(found[1]), int(found[2])


def show(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


def shipped() -> list[Version]:
    """Every minor version kubernetes-validate has schemas for, oldest first."""
    return sorted({parse(v) for v in kv.all_versions()})


def supported() -> list[Version]:
    """The matrix: every shipped version from the oldest supported one on."""
    return [v for v in shipped() if v >= OLDEST]


def newest() -> Version:
    return shipped()[-1]


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every mapping inside `node`, `node` included."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def _webhook_match_conditions(obj: dict[str, Any]) -> bool:
    if not str(obj.get("kind", "")).endswith("WebhookConfiguration"):
        return False
    return any("matchConditions" in hook for hook in obj.get("webhooks") or [])


def _pdb_unhealthy_policy(obj: dict[str, Any]) -> bool:
    spec = obj.get("spec") or {}
    return obj.get("kind") == "PodDisruptionBudget" and "unhealthyPodEvictionPolicy" in spec


def _init_container_restart_policy(obj: dict[str, Any]) -> bool:
    return any(
        "restartPolicy" in container
        for node in _walk(obj)
        for container in node.get("initContainers") or []
        if isinstance(container, dict)
    )


def _sleep_action(obj: dict[str, Any]) -> bool:
    return any(
        isinstance(handler, dict) and "sleep" in handler
        for node in _walk(obj)
        if isinstance(node.get("lifecycle"), dict)
        for handler in node["lifecycle"].values()
    )


def _beta_admission_policy(obj: dict[str, Any]) -> bool:
    api = str(obj.get("apiVersion", ""))
    return api.startswith("admissionregistration.k8s.io/v1") and api != (
        "admissionregistration.k8s.io/v1"
    )


@dataclass(frozen=True)
class Gated:
    """A field (or API) that is in the schema before it is on by default."""

    what: str
    # The first version where a default API server honours it; None: never by default.
    on_by_default: Version | None
    present: Callable[[dict[str, Any]], bool]


GATED = (
    Gated("webhook matchConditions (AdmissionWebhookMatchConditions)", (1, 28),
          _webhook_match_conditions),
    Gated("PodDisruptionBudget unhealthyPodEvictionPolicy (PDBUnhealthyPodEvictionPolicy)",
          (1, 27), _pdb_unhealthy_policy),
    Gated("init container restartPolicy, native sidecars (SidecarContainers)", (1, 29),
          _init_container_restart_policy),
    Gated("lifecycle sleep action (PodLifecycleSleepAction)", (1, 30), _sleep_action),
    Gated("admissionregistration alpha/beta API (not served by default)", None,
          _beta_admission_policy),
)  # fmt: skip


def _schema_file(obj: dict[str, Any]) -> str:
    # kubernetes-validate's naming: rbac.authorization.k8s.io/v1 -> rbac-v1, v1 -> v1.
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", str(obj["apiVersion"]))
    return f"{str(obj['kind']).lower()}-{api}.json"


def _directory(version: Version) -> str:
    return f"kubernetes-json-schema/v{show(version)}.0-local-strict"


@functools.cache
def _registry(version: Version) -> referencing.Registry[Any]:
    definitions = kv.schema_contents(f"{_directory(version)}/_definitions.json", show(version))
    return referencing.Resource.from_contents(definitions) @ referencing.Registry()


@functools.cache
def _validator(version: Version, schema_file: str) -> jsonschema.Draft202012Validator | None:
    """The strict validator for one file of one version; None when it has no such file."""
    try:
        schema = kv.schema_contents(f"{_directory(version)}/{schema_file}", show(version))
    except (FileNotFoundError, kv.VersionNotSupportedError):
        return None
    registry = referencing.Resource.from_contents(schema) @ _registry(version)
    return jsonschema.Draft202012Validator(schema, registry=registry)


def is_builtin(obj: dict[str, Any]) -> bool:
    """True when some shipped version has a schema for the object's kind; a custom
    resource (e.g. a cert-manager Certificate) has none and cannot be checked here."""
    return any(_validator(v, _schema_file(obj)) is not None for v in shipped())


def problems(obj: dict[str, Any], version: Version) -> list[str]:
    """Why `obj` is not valid on `version` (empty: it is). The version's own schema must
    be shipped: falling back to an older one would check against the wrong version."""
    if version not in shipped():
        raise LookupError(f"kubernetes-validate ships no schema for {show(version)}")
    name = f"{obj.get('kind')} {(obj.get('metadata') or {}).get('name')}"
    validator = _validator(version, _schema_file(obj))
    if validator is None:
        api = f"{obj.get('apiVersion')} {obj.get('kind')}"
        return [f"{name}: {api} is not served by {show(version)}"]
    found = [f"{name}: {error.json_path}: {error.message}" for error in validator.iter_errors(obj)]
    for gated in GATED:
        if gated.present(obj) and (gated.on_by_default is None or version < gated.on_by_default):
            since = "never" if gated.on_by_default is None else f"from {show(gated.on_by_default)}"
            found.append(f"{name}: {gated.what} is off by default in {show(version)} ({since})")
    return found


def valid_on(obj: dict[str, Any], version: Version) -> bool:
    return not problems(obj, version)
