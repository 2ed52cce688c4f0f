"""Kubernetes label selectors (`matchLabels` and `matchExpressions`), checked and matched.

Used for the configurable `neverInjectSelector`/`alwaysInjectSelector`, with the same
semantics kube-apiserver gives a webhook's `objectSelector`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_OPERATORS = frozenset({"In", "NotIn", "Exists", "DoesNotExist"})


def check_selector(selector: Any) -> None:
    """Raise ValueError with a reason unless `selector` is a well-formed LabelSelector."""
    if not isinstance(selector, Mapping):
        raise ValueError("a selector must be a mapping with matchLabels/matchExpressions")
    unknown = set(selector) - {"matchLabels", "matchExpressions"}
    if unknown:
        raise ValueError(f"unknown selector key {sorted(unknown)[0]}")
    match_labels = selector.get("matchLabels") or {}
    if not isinstance(match_labels, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in match_labels.items()
    ):
        raise ValueError("matchLabels must map label keys to string values")
    expressions = selector.get("matchExpressions") or []
    if not isinstance(expressions, list):
        raise ValueError("matchExpressions must be a list")
    for expression in expressions:
        _check_expression(expression)


def _check_expression(expression: Any) -> None:
    if not isinstance(expression, Mapping) or not isinstance(expression.get("key"), str):
        raise ValueError("each matchExpressions entry needs a string key")
    operator = expression.get("operator")
    if operator not in _OPERATORS:
        raise ValueError(f"operator must be one of {', '.join(sorted(_OPERATORS))}")
    values = expression.get("values") or []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValueError("values must be a list of strings")
    if operator in {"In", "NotIn"} and not values:
        raise ValueError(f"operator {operator} needs at least one value")
    if operator in {"Exists", "DoesNotExist"} and values:
        raise ValueError(f"operator {operator} takes no values")


def matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """True when every requirement of a checked selector holds for `labels`.

    An empty selector matches everything, as in Kubernetes.
    """
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True
