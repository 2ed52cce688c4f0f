"""A namespace's LimitRanges judged as the LimitRanger admission plugin judges a Pod.

First its defaults (LimitRange type Container: `default` limits and `defaultRequest`
requests) go to every container, init containers too, that lacks them; then every
Container item checks each container, and every Pod item checks the Pod's total, against
`min` (the request), `max` (the limit) and `maxLimitRequestRatio`. The stored defaults
the API gives an item (`default` from `max`, `defaultRequest` from `default`, then from
`min`) are applied here too, so an item as written in a manifest reads as stored.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from injector.planning import quantities, resources
from injector.planning.resources import Amounts

CONTAINER, POD = "Container", "Pod"
CONTAINER_KEYS = ("initContainers", "containers")


@dataclass(frozen=True)
class Violation:
    """One refused constraint; `container` is None for a Pod-level item."""

    limit_range: str
    container: str | None
    resource: str
    rule: str  # min | max | maxLimitRequestRatio
    message: str

    @property
    def key(self) -> tuple[str, str | None, str, str]:
        return (self.limit_range, self.container, self.resource, self.rule)


def _items(limit_range: Mapping[str, Any], kind: str) -> list[dict[str, dict[str, str]]]:
    limits = (limit_range.get("spec") or {}).get("limits")
    found = []
    for item in limits if isinstance(limits, list) else []:
        if not isinstance(item, Mapping) or item.get("type") != kind:
            continue
        stored = {k: dict(item.get(k) or {}) for k in ("min", "max", "default", "defaultRequest")}
        stored["maxLimitRequestRatio"] = dict(item.get("maxLimitRequestRatio") or {})
        if kind == CONTAINER:
            stored["default"] = {**stored["max"], **stored["default"]}
            stored["defaultRequest"] = {
                **stored["min"],
                **stored["default"],
                **stored["defaultRequest"],
            }
        found.append(stored)
    return found


def with_defaults(spec: Mapping[str, Any], limit_ranges: Iterable[Mapping[str, Any]]) -> Any:
    """A copy of the Pod spec with every Container item's defaults filled in where a
    container has no value of its own (after the API's request-from-limit defaulting)."""
    limits: dict[str, str] = {}
    requests: dict[str, str] = {}
    for limit_range in limit_ranges:
        for item in _items(limit_range, CONTAINER):
            limits.update(item["default"])
            requests.update(item["defaultRequest"])
    result = copy.deepcopy(dict(spec))
    for key in CONTAINER_KEYS:
        for entry in result.get(key) or []:
            if not isinstance(entry, dict):
                continue
            found = entry.get("resources")
            own: dict[str, Any] = found if isinstance(found, dict) else {}
            own_limits = dict(own.get("limits") or {})
            own_requests = {**own_limits, **(own.get("requests") or {})}
            entry["resources"] = {
                **own,
                "limits": {**limits, **own_limits},
                "requests": {**requests, **own_requests},
            }
    return result


def _minimum(name: str, text: str, where: str, requests: Amounts, limits: Amounts) -> str | None:
    enforced, head = quantities.parse(text), f"minimum {name} usage per {where} is {text}"
    if name not in requests:
        return f"{head}. No request is specified"
    if requests[name] < enforced:
        return f"{head}, but request is {quantities.render(requests[name])}"
    if name in limits and limits[name] < enforced:
        return f"{head}, but limit is {quantities.render(limits[name])}"
    return None


def _maximum(name: str, text: str, where: str, requests: Amounts, limits: Amounts) -> str | None:
    enforced, head = quantities.parse(text), f"maximum {name} usage per {where} is {text}"
    if name not in limits:
        return f"{head}. No limit is specified"
    if limits[name] > enforced:
        return f"{head}, but limit is {quantities.render(limits[name])}"
    if name in requests and requests[name] > enforced:
        return f"{head}, but request is {quantities.render(requests[name])}"
    return None


def _check(
    where: str, used: Mapping[str, Amounts], item: Mapping[str, Mapping[str, str]]
) -> list[tuple[str, str, str]]:
    """(resource, rule, message) for each constraint of `item` that `used` breaks."""
    requests, limits = used["requests"], used["limits"]
    found = []
    for rule, check in (("min", _minimum), ("max", _maximum)):
        for name, text in item[rule].items():
            message = check(name, text, where, requests, limits)
            if message is not None:
                found.append((name, rule, message))
    found += _ratios(where, requests, limits, item["maxLimitRequestRatio"])
    return found


def _ratios(
    where: str,
    requests: Mapping[str, Fraction],
    limits: Mapping[str, Fraction],
    ratios: Mapping[str, str],
) -> list[tuple[str, str, str]]:
    found = []
    for name, text in ratios.items():
        enforced = quantities.parse(text)
        head = f"{name} max limit to request ratio per {where} is {text}"
        request, limit = requests.get(name, Fraction(0)), limits.get(name, Fraction(0))
        if request == 0:
            found.append(
                (
                    name,
                    "maxLimitRequestRatio",
                    f"{head}, but no request is specified or request is 0",
                )
            )
        elif limit == 0:
            found.append(
                (name, "maxLimitRequestRatio", f"{head}, but no limit is specified or limit is 0")
            )
        elif limit / request > enforced:
            shown = f"{float(limit / request):.6f}"
            found.append((name, "maxLimitRequestRatio", f"{head}, but provided ratio is {shown}"))
    return found


def judge(spec: Mapping[str, Any], limit_ranges: Iterable[Mapping[str, Any]]) -> list[Violation]:
    """Every constraint of the namespace's LimitRanges that the Pod (spec) breaks, after
    the defaults are applied."""
    ranges = list(limit_ranges)
    defaulted = with_defaults(spec, ranges)
    found: list[Violation] = []
    for limit_range in ranges:
        name = str((limit_range.get("metadata") or {}).get("name", ""))
        for item in _items(limit_range, CONTAINER):
            for key in CONTAINER_KEYS:
                for entry in defaulted.get(key) or []:
                    own = resources.container(entry)
                    for broken in _check(CONTAINER, own, item):
                        found.append(Violation(name, str(entry.get("name")), *broken))
        for item in _items(limit_range, POD):
            for broken in _check(POD, resources.totals(defaulted), item):
                found.append(Violation(name, None, *broken))
    return found
