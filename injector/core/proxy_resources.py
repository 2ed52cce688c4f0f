"""The proxy container's requests and limits for one Pod: the configured defaults, the
`sidecar.istio.io/proxyCPU|Memory[Limit]` annotations, and the Pod's QoS class.

Two rules shape the result: a request never exceeds its limit (one side is moved, with a
warning, unless both were given explicitly), and a Guaranteed Pod stays Guaranteed.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from injector.core import grammar, names
from injector.core.config import Resources

RESOURCE_KEYS = {
    names.PROXY_CPU: ("requests", "cpu"),
    names.PROXY_MEMORY: ("requests", "memory"),
    names.PROXY_CPU_LIMIT: ("limits", "cpu"),
    names.PROXY_MEMORY_LIMIT: ("limits", "memory"),
}
_REQUEST_KEY = {"cpu": names.PROXY_CPU, "memory": names.PROXY_MEMORY}
_LIMIT_KEY = {"cpu": names.PROXY_CPU_LIMIT, "memory": names.PROXY_MEMORY_LIMIT}


def _quantity(value: Any) -> Decimal | None:
    try:
        return grammar.parse_quantity(str(value))
    except grammar.GrammarError:
        return None


def is_guaranteed(spec: Mapping[str, Any]) -> bool:
    """True when every container has CPU and memory limits equal to its requests."""
    for container in [*(spec.get("initContainers") or []), *spec["containers"]]:
        resources = container.get("resources") or {}
        limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
        for resource in ("cpu", "memory"):
            limit = _quantity(limits[resource]) if resource in limits else None
            if limit is None:
                return False
            if resource in requests and _quantity(requests[resource]) != limit:
                return False
    return True


def choose(
    annotations: Mapping[str, str],
    default: Resources,
    guaranteed: bool,
    problems: list[str],
    warnings: list[str],
) -> dict[str, dict[str, str]]:
    """The proxy's requests and limits: configuration defaults, overridden by valid
    annotations; a bad value is added to `problems`, an adjustment to `warnings`."""
    chosen = {"requests": dict(default.requests), "limits": dict(default.limits)}
    explicit: set[str] = set()
    for key, (part, resource) in RESOURCE_KEYS.items():
        if key in annotations:
            try:
                grammar.parse_quantity(annotations[key])
            except grammar.GrammarError as err:
                problems.append(f"annotation {key}={grammar.printable(annotations[key])}: {err}")
                continue
            chosen[part][resource] = annotations[key]
            explicit.add(key)
    for resource in ("cpu", "memory"):
        _reconcile(
            chosen,
            resource=resource,
            explicit=explicit,
            guaranteed=guaranteed,
            problems=problems,
            warnings=warnings,
        )
    return chosen


def _reconcile(
    chosen: dict[str, dict[str, str]],
    *,
    resource: str,
    explicit: set[str],
    guaranteed: bool,
    problems: list[str],
    warnings: list[str],
) -> None:
    """Keep request <= limit (and request == limit for a Guaranteed Pod)."""
    requests, limits = chosen["requests"], chosen["limits"]
    request_key, limit_key = _REQUEST_KEY[resource], _LIMIT_KEY[resource]
    request, limit = requests.get(resource), limits.get(resource)
    if request is None or limit is None:
        return
    if guaranteed:
        if request_key in explicit and limit_key in explicit:
            if grammar.parse_quantity(request) != grammar.parse_quantity(limit):
                warnings.append(f"{request_key} != {limit_key}: the Pod loses Guaranteed QoS")
                return
        elif limit_key in explicit:
            requests[resource] = limit
            return
        else:
            limits[resource] = request
            return
    if grammar.parse_quantity(request) <= grammar.parse_quantity(limit):
        return
    if request_key in explicit and limit_key in explicit:
        problems.append(f"annotation {request_key}={request} is above {limit_key}={limit}")
    elif request_key in explicit:
        limits[resource] = request
        warnings.append(f"proxy {resource} limit raised to {request} to match {request_key}")
    else:
        requests[resource] = limit
        warnings.append(f"proxy {resource} request lowered to {limit} to match {limit_key}")
