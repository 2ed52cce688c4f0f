"""Whether a Pod's structure can be patched safely, checked before anything reads it.

The rest of the pipeline may then take `spec.containers` as a non-empty list of named
objects, `initContainers`/`volumes` as lists or absent, and labels and annotations as
maps of strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _is_str_map(value: Any) -> bool:
    return value is None or (
        isinstance(value, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    )


def _named_list(value: Any, where: str, *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, list) or (required and not value):
        return f"{where} must be a {'non-empty ' if required else ''}list"
    for index, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            return f"{where}[{index}] must be an object with a string name"
    return None


def _container_problem(container: Mapping[str, Any], where: str) -> str | None:
    ports = container.get("ports")
    if ports is not None and not (
        isinstance(ports, list) and all(isinstance(p, dict) for p in ports)
    ):
        return f"{where}.ports must be a list of objects"
    if not isinstance(container.get("securityContext") or {}, dict):
        return f"{where}.securityContext must be an object"
    resources = container.get("resources")
    if resources is not None and not (
        isinstance(resources, dict)
        and all(isinstance(resources.get(k) or {}, dict) for k in ("requests", "limits"))
    ):
        return f"{where}.resources must hold requests/limits objects"
    return None


def problem(pod: Any) -> str | None:
    """Say what makes `pod` impossible to patch safely, or None if it can be patched."""
    if not isinstance(pod, dict):
        return "the object is not a JSON object"
    metadata = pod.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return "metadata must be an object"
    for key in ("labels", "annotations"):
        if not _is_str_map((metadata or {}).get(key)):
            return f"metadata.{key} must map strings to strings"
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return "spec must be an object"
    if not isinstance(spec.get("securityContext") or {}, dict):
        return "spec.securityContext must be an object"
    problem = (
        _named_list(spec.get("containers"), "spec.containers", required=True)
        or _named_list(spec.get("initContainers"), "spec.initContainers")
        or _named_list(spec.get("volumes"), "spec.volumes")
    )
    if problem:
        return problem
    for key in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(key) or []):
            problem = _container_problem(container, f"spec.{key}[{index}]")
            if problem:
                return problem
    return None
