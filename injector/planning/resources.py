"""What a Pod reserves, counted as Kubernetes counts it.

A container's requests and limits are read as kube-apiserver stores them: a resource
with a limit and no request gets the limit as its request (the API's defaulting). A
Pod's total is the scheduler's and the quota's (`PodRequests` / `PodLimits`): the sum of
its containers and of its restartable (native sidecar) init containers, or the largest
ordinary init container plus the sidecars started before it, whichever is more, plus
`spec.overhead`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any

from injector.planning import quantities

Amounts = dict[str, Fraction]
KINDS = ("requests", "limits")


def _amounts(values: Any, where: str) -> Amounts:
    if not isinstance(values, Mapping):
        return {}
    found: Amounts = {}
    for name, text in values.items():
        try:
            found[str(name)] = quantities.parse(str(text))
        except quantities.QuantityError as err:
            raise quantities.QuantityError(f"{where} {name}: {err}") from None
    return found


def container(item: Mapping[str, Any]) -> dict[str, Amounts]:
    """{"requests": ..., "limits": ...} of one container, requests defaulted from limits."""
    found = item.get("resources")
    resources: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    name = item.get("name")
    limits = _amounts(resources.get("limits"), f"container {name} limits")
    requests = _amounts(resources.get("requests"), f"container {name} requests")
    return {"requests": {**limits, **requests}, "limits": limits}


def add(*many: Mapping[str, Fraction]) -> Amounts:
    total: Amounts = {}
    for amounts in many:
        for name, value in amounts.items():
            total[name] = total.get(name, Fraction(0)) + value
    return total


def scale(amounts: Mapping[str, Fraction], factor: int) -> Amounts:
    return {name: value * factor for name, value in amounts.items()}


def subtract(more: Mapping[str, Fraction], less: Mapping[str, Fraction]) -> Amounts:
    """`more` - `less` per resource, keeping only what differs."""
    names = set(more) | set(less)
    found = {n: more.get(n, Fraction(0)) - less.get(n, Fraction(0)) for n in names}
    return {n: v for n, v in sorted(found.items()) if v != 0}


def _most(a: Mapping[str, Fraction], b: Mapping[str, Fraction]) -> Amounts:
    return {n: max(a.get(n, Fraction(0)), b.get(n, Fraction(0))) for n in set(a) | set(b)}


def _listed(spec: Mapping[str, Any], key: str) -> Iterable[Mapping[str, Any]]:
    items = spec.get(key)
    return [i for i in items if isinstance(i, Mapping)] if isinstance(items, list) else []


def pod(spec: Mapping[str, Any], kind: str) -> Amounts:
    """The Pod's total `kind` ("requests" or "limits"), as the scheduler and quota count it."""
    total = add(*(container(c)[kind] for c in _listed(spec, "containers")))
    sidecars: Amounts = {}
    init_peak: Amounts = {}
    for item in _listed(spec, "initContainers"):
        own = container(item)[kind]
        if item.get("restartPolicy") == "Always":
            total = add(total, own)
            sidecars = add(sidecars, own)
            init_peak = _most(init_peak, sidecars)
        else:
            init_peak = _most(init_peak, add(own, sidecars))
    overhead = _amounts(spec.get("overhead"), "overhead")
    return add(_most(total, init_peak), overhead)


def totals(spec: Mapping[str, Any]) -> dict[str, Amounts]:
    return {kind: pod(spec, kind) for kind in KINDS}
