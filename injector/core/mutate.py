"""The JSON Patch (RFC 6902) that adds a rendered sidecar to a Pod.

Only `add` operations are emitted, built from what is added rather than from a diff of
the whole Pod: nothing the Pod had is removed or changed (the status annotation is merged
into an existing annotations map), a missing parent is created whole, and the cost does
not grow with the size of the Pod. Keys in JSON Pointers are escaped (`~` -> `~0`,
`/` -> `~1`).

Order in the Pod:
- classic sidecar: user init containers keep their order and `istio-init` runs last,
  so they are not cut off from the network before the proxy runs; the proxy is the last
  container, so `kubectl exec` and `kubectl logs` still default to the app;
- native sidecar: `istio-init` then the proxy (with `restartPolicy: Always`) run first,
  so user init containers already have the mesh.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Operation = dict[str, Any]


def escape(key: str) -> str:
    """Escape one JSON Pointer reference token (RFC 6901)."""
    return key.replace("~", "~0").replace("/", "~1")


def _append(ops: list[Operation], path: str, existing: Any, items: list[Any]) -> None:
    if not items:
        return
    if existing is None:
        ops.append({"op": "add", "path": path, "value": items})
    else:
        ops.extend({"op": "add", "path": f"{path}/-", "value": item} for item in items)


def _annotations(ops: list[Operation], pod: Mapping[str, Any], added: Mapping[str, str]) -> None:
    metadata = pod.get("metadata")
    if metadata is None:
        ops.append({"op": "add", "path": "/metadata", "value": {"annotations": dict(added)}})
        return
    if metadata.get("annotations") is None:
        ops.append({"op": "add", "path": "/metadata/annotations", "value": dict(added)})
        return
    for key, value in added.items():
        ops.append({"op": "add", "path": f"/metadata/annotations/{escape(key)}", "value": value})


def shape(pod: Mapping[str, Any]) -> tuple[Any, ...]:
    """What `sidecar_ops` looks at in the Pod: which parents are missing, and the
    sysctls it has. Two Pods with the same shape get the same operations for the same
    sidecar."""
    metadata, spec = pod.get("metadata"), pod["spec"]
    context = spec.get("securityContext")
    return (
        metadata is None,
        metadata is None or metadata.get("annotations") is None,
        spec.get("initContainers") is None,
        spec.get("volumes") is None,
        context is None,
        repr((context or {}).get("sysctls")),
    )


def _sysctls(ops: list[Operation], spec: Mapping[str, Any], sysctls: list[Any]) -> None:
    """Add the sysctls the Pod does not set yet. (Istio's gateway template replaces the
    Pod's whole list; adding by name keeps what the Pod chose.)"""
    if not sysctls:
        return
    context = spec.get("securityContext")
    if context is None:
        ops.append({"op": "add", "path": "/spec/securityContext", "value": {"sysctls": sysctls}})
        return
    present = context.get("sysctls")
    if present is None:
        ops.append({"op": "add", "path": "/spec/securityContext/sysctls", "value": sysctls})
    elif isinstance(present, list):
        have = {item.get("name") for item in present if isinstance(item, dict)}
        ops.extend(
            {"op": "add", "path": "/spec/securityContext/sysctls/-", "value": item}
            for item in sysctls
            if item.get("name") not in have
        )


def sidecar_ops(
    pod: Mapping[str, Any],
    *,
    init: dict[str, Any] | None,
    proxy: dict[str, Any],
    volumes: list[dict[str, Any]],
    native: bool,
    annotations: Mapping[str, str],
    sysctls: list[Any] | None = None,
) -> list[Operation]:
    """Operations that add the rendered containers, volumes and annotations to `pod`.

    `pod` must have passed the engine's shape check: a `spec` mapping whose
    `containers` is a list and whose `initContainers`/`volumes` are lists or absent.
    """
    spec = pod["spec"]
    ops: list[Operation] = []
    existing_init = spec.get("initContainers")
    inits = [] if init is None else [init]  # a gateway has no init container
    if native:
        first = [*inits, {**proxy, "restartPolicy": "Always"}]
        if existing_init is None:
            ops.append({"op": "add", "path": "/spec/initContainers", "value": first})
        else:
            ops.extend(
                {"op": "add", "path": f"/spec/initContainers/{index}", "value": item}
                for index, item in enumerate(first)
            )
    else:
        _append(ops, "/spec/initContainers", existing_init, inits)
        ops.append({"op": "add", "path": "/spec/containers/-", "value": proxy})
    _append(ops, "/spec/volumes", spec.get("volumes"), volumes)
    _sysctls(ops, spec, sysctls or [])
    _annotations(ops, pod, annotations)
    return ops
