"""The injector config (ConfigMap `istio-sidecar-injector`, key `config`) over a `Config`.

Mapped: `policy`, `alwaysInjectSelector`, `neverInjectSelector`. Read and checked, with
a warning when they ask for what this injector does not do: `injectedAnnotations`,
`defaultTemplates`, `aliases`, and each Go template under `templates:` that is not
Istio 1.20.8's stock one (`stock_templates`). The legacy `template` key is ignored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from injector.core import label_selectors
from injector.core.config import Config
from injector.istio_config import stock_templates
from injector.istio_config.document import Node


def _selectors(node: Node, key: str) -> tuple[Mapping[str, Any], ...]:
    items = node.get(key, list, [])
    for index, selector in enumerate(items):
        try:
            label_selectors.check_selector(selector)
        except ValueError as err:
            node.fail(f"{key}[{index}]", str(err))
    return tuple(items)


def _ours(config: Config) -> frozenset[str]:
    """The names of the templates this injector renders (its template directory's files)."""
    return frozenset(path.stem for path in Path(config.templates).glob("*.yaml"))


def _template_warnings(node: Node, ours: frozenset[str]) -> list[str]:
    warnings = []
    templates = node.child("templates")
    for name in sorted(str(key) for key in templates.data):
        text = templates.get(name, str, "")
        where = f"{node.origin}: template {name!r}"
        if stock_templates.is_stock(name, text):
            continue
        if name in stock_templates.STOCK_DIGESTS:
            then = "renders its own" if name in ours else "has no template of that name and refuses"
            warnings.append(
                f"{where} differs from Istio 1.20.8's stock one; this injector {then} "
                f"'{name}', not this Go template (not modelled)"
            )
        elif name in ours:
            warnings.append(
                f"{where} is not one of Istio 1.20.8's; this injector renders its own "
                f"'{name}' template file instead (not modelled)"
            )
        else:
            warnings.append(
                f"{where} is not one of Istio 1.20.8's; this injector cannot run Go "
                "templates and refuses Pods that select it (not modelled)"
            )
    return warnings


def _other_warnings(node: Node) -> list[str]:
    warnings = []
    defaults = node.strings("defaultTemplates")
    if defaults and defaults != ("sidecar",):
        warnings.append(
            f"{node.origin}: defaultTemplates {', '.join(defaults)} not modelled: a Pod "
            "that selects no template gets 'sidecar'"
        )
    if node.get("aliases", Mapping, {}):
        warnings.append(f"{node.origin}: aliases not modelled: an alias name is refused")
    annotations = node.get("injectedAnnotations", Mapping, {})
    if annotations:
        keys = ", ".join(sorted(str(key) for key in annotations))
        warnings.append(f"{node.origin}: injectedAnnotations not modelled ({keys} not added)")
    return warnings


def apply(config: Config, node: Node) -> tuple[Config, list[str]]:
    """`config` with the injector config's settings, and what it does not model."""
    policy = node.get("policy", str, config.policy)
    if policy not in ("enabled", "disabled"):
        node.fail("policy", "must be enabled or disabled")
    changed = dataclasses.replace(
        config,
        policy=policy,
        alwaysInjectSelector=_selectors(node, "alwaysInjectSelector")
        if node.has("alwaysInjectSelector")
        else config.alwaysInjectSelector,
        neverInjectSelector=_selectors(node, "neverInjectSelector")
        if node.has("neverInjectSelector")
        else config.neverInjectSelector,
    )
    return changed, _other_warnings(node) + _template_warnings(node, _ours(config))
