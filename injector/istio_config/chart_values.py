"""The chart's values (ConfigMap `istio-sidecar-injector`, key `values`) over a `Config`.

Mapped, each to the setting of ours that does the same (docs/configuration.md, "Istio's
own configuration"): the proxy image (`global.hub`, `global.tag`,
`global.proxy.image`), `global.imagePullPolicy`, `global.proxy.resources`, the
interception ranges (`global.proxy.includeIPRanges` ...), `global.proxy.clusterDomain`,
`global.proxy.holdApplicationUntilProxyStarts`, `global.multiCluster.clusterName`,
`global.caAddress` and `global.istioNamespace`, `global.network`, the status port and
readiness (`global.proxy.statusPort`, `readiness*`), the log levels
(`global.proxy.logLevel`, `componentLogLevel`, `global.logging.level`),
`global.imagePullSecrets`, `global.mountMtlsCerts`, `istio_cni.enabled` and `chained`,
`revision`, and
`sidecarInjectorWebhook.rewriteAppHTTPProbe`.
What changes the sidecar and is not mapped is a warning (`unmodelled`); keys that do
not shape the sidecar are ignored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from injector.core import config_file, grammar
from injector.core.config import Cni, Config, ConfigError, Interception, Proxy, Resources
from injector.istio_config import unmodelled
from injector.istio_config.document import Node

ISTIO_NAMESPACE = "istio-system"

# values key under global.proxy -> (our interception key, its grammar)
_INTERCEPTION: dict[str, tuple[str, Callable[[str], Any]]] = {
    "includeIPRanges": ("includeOutboundIPRanges", lambda v: grammar.parse_cidrs(v, wildcard=True)),
    "excludeIPRanges": ("excludeOutboundIPRanges", grammar.parse_cidrs),
    "includeInboundPorts": ("includeInboundPorts", lambda v: grammar.parse_ports(v, wildcard=True)),
    "excludeInboundPorts": ("excludeInboundPorts", grammar.parse_ports),
    "excludeOutboundPorts": ("excludeOutboundPorts", grammar.parse_ports),
}


def proxy_image(node: Node, current: str) -> tuple[str, list[str]]:
    """The proxy image as Istio 1.20.8 makes it: `global.proxy.image` as given when it
    contains a '/', else `<hub>/<image>:<tag>` (the image defaulting to proxyv2)."""
    top, proxy = node.child("global"), node.child("global").child("proxy")
    name = proxy.get("image", str, "")
    if not (name or top.has("hub") or top.has("tag")):
        return current, []
    if "/" not in name:
        hub, tag = top.get("hub", str, ""), top.get("tag", str, "")
        if not hub or not tag:
            top.fail("hub" if not hub else "tag", "needed to name the proxy image")
        name = f"{hub}/{name or 'proxyv2'}:{tag}"
    try:
        grammar.check_image(name)
    except grammar.GrammarError as err:
        return name, [f"{node.origin}: proxy image {name!r} is {err}; a node may not pull it"]
    return name, []


def _init_image(node: Node, proxy: str) -> list[str]:
    init = node.child("global").child("proxy_init").get("image", str, "")
    if "/" in init and init != proxy:
        return [
            f"{node.origin}: global.proxy_init.image={init} not modelled "
            "(istio-init runs the proxy image)"
        ]
    return []


def _resources(node: Node, current: Resources) -> Resources:
    section = node.child("global").child("proxy").child("resources")
    parts: dict[str, dict[str, str]] = {}
    for part in ("requests", "limits"):
        given = section.child(part)
        parts[part] = dict(getattr(current, part)) if not section.has(part) else {}
        for resource in sorted(str(key) for key in given.data):
            quantity = given.get(resource, str, "")
            try:
                grammar.parse_quantity(quantity)
            except grammar.GrammarError as err:
                given.fail(resource, str(err))
            parts[part][resource] = quantity
    return Resources(requests=parts["requests"], limits=parts["limits"])


def _interception(node: Node, current: Interception) -> Interception:
    proxy = node.child("global").child("proxy")
    changes = {}
    for key, (ours, check) in _INTERCEPTION.items():
        if proxy.has(key):
            value = proxy.get(key, str, "")
            try:
                check(value)
            except grammar.GrammarError as err:
                proxy.fail(key, str(err))
            changes[ours] = value
    return dataclasses.replace(current, **changes)


def _ca_address(node: Node, revision: str, current: str) -> str:
    top = node.child("global")
    if not (top.has("caAddress") or top.has("istioNamespace")):
        return current
    given = str(top.get("caAddress", str, ""))
    namespace = top.get("istioNamespace", str, ISTIO_NAMESPACE) or ISTIO_NAMESPACE
    if given or namespace == ISTIO_NAMESPACE:
        return given  # empty: istiod[-<revision>].istio-system.svc:15012, as ours
    host = "istiod" if revision == "default" else f"istiod-{revision}"
    return f"{host}.{namespace}.svc:15012"


def _revision(node: Node, config: Config) -> Config:
    if not node.has("revision"):
        return config
    try:
        return config_file.with_revision(config, node.get("revision", str, "") or "default")
    except ConfigError as err:
        node.fail("revision", str(err))


def _mesh(node: Node, config: Config) -> Config:
    top = node.child("global")
    proxy, cluster = top.child("proxy"), top.child("multiCluster")
    mesh = config.mesh
    return dataclasses.replace(
        config,
        mesh=dataclasses.replace(
            mesh,
            clusterDomain=proxy.get("clusterDomain", str, mesh.clusterDomain) or mesh.clusterDomain,
            holdApplicationUntilProxyStarts=proxy.get(
                "holdApplicationUntilProxyStarts", bool, mesh.holdApplicationUntilProxyStarts
            ),
            clusterId=cluster.get("clusterName", str, "") or "Kubernetes"
            if cluster.has("clusterName")
            else mesh.clusterId,
            caAddress=_ca_address(node, config.revision, mesh.caAddress),
            rewriteAppHTTPProbers=node.child("sidecarInjectorWebhook").get(
                "rewriteAppHTTPProbe", bool, mesh.rewriteAppHTTPProbers
            ),
            network=top.get("network", str, mesh.network),
        ),
    )


# values key under global.proxy -> (our readiness setting, lowest value)
_READINESS = {
    "readinessInitialDelaySeconds": ("initialDelaySeconds", 0),
    "readinessPeriodSeconds": ("periodSeconds", 1),
    "readinessFailureThreshold": ("failureThreshold", 1),
}
# values key -> (our proxy setting, its grammar)
_LEVELS: dict[tuple[str, str], tuple[str, Callable[[str], Any]]] = {
    ("proxy", "logLevel"): ("logLevel", grammar.parse_envoy_level),
    ("proxy", "componentLogLevel"): ("componentLogLevel", grammar.parse_envoy_components),
    ("logging", "level"): ("agentLogLevel", grammar.parse_agent_levels),
}


def _number(node: Node, key: str, low: int, high: int = 2**31 - 1) -> int | None:
    value: int | None = node.get(key, int, None)
    if value is not None and not low <= value <= high:
        node.fail(key, f"must be a whole number from {low} to {high}")
    return value


def _proxy_defaults(node: Node, current: Proxy) -> Proxy:
    """Status port, readiness, log levels and pull secrets: the per-Pod annotations'
    defaults."""
    top = node.child("global")
    proxy, changes = top.child("proxy"), dict[str, Any]()
    status = _number(proxy, "statusPort", 0, 65535)
    if status is not None:
        changes["statusPort"] = status
    readiness: dict[str, int] = {}
    for key, (ours, low) in _READINESS.items():
        value = _number(proxy, key, low)
        if value is not None:
            readiness[ours] = value
    for (section, key), (ours, parse) in _LEVELS.items():
        where = top.child(section)
        if where.has(key):
            changes[ours] = where.get(key, str, "")
            try:
                parse(changes[ours])
            except grammar.GrammarError as err:
                where.fail(key, str(err))
    if top.has("imagePullSecrets"):
        changes["imagePullSecrets"] = _secrets(top)
    if top.has("mountMtlsCerts"):
        changes["mountMtlsCerts"] = top.get("mountMtlsCerts", bool, False)
    ready = dataclasses.replace(current.readiness, **readiness)
    return dataclasses.replace(current, readiness=ready, **changes)


def _secrets(top: Node) -> tuple[str, ...]:
    """global.imagePullSecrets: names, or {name: ...} as a Pod writes them."""
    found = []
    for item in top.get("imagePullSecrets", list, []):
        name = item.get("name") if isinstance(item, dict) else item
        if not isinstance(name, str) or not name:
            top.fail("imagePullSecrets", "must be a list of secret names")
        found.append(name)
    return tuple(found)


def _tracer(node: Node) -> list[str]:
    tracer = node.child("global").child("proxy").get("tracer", str, "")
    if tracer in ("datadog", "lightstep"):
        return [f"{node.origin}: global.proxy.tracer={tracer} not modelled (its env and mounts)"]
    return []


def apply(config: Config, node: Node) -> tuple[Config, list[str]]:
    """`config` with the values' settings, and what they set that we do not model."""
    config = _revision(node, config)
    image, warnings = proxy_image(node, config.proxy.image)
    top = node.child("global")
    policy = top.get("imagePullPolicy", str, config.proxy.imagePullPolicy)
    if policy not in ("Always", "IfNotPresent", "Never", ""):
        top.fail("imagePullPolicy", "must be Always, IfNotPresent, Never or empty")
    proxy = dataclasses.replace(
        _proxy_defaults(node, config.proxy),
        image=image,
        imagePullPolicy=policy,
        resources=_resources(node, config.proxy.resources),
    )
    config = dataclasses.replace(
        config, proxy=proxy, interception=_interception(node, config.interception)
    )
    config = _mesh(node, config)
    cni = node.child("istio_cni")
    config = dataclasses.replace(
        config,
        cni=Cni(
            enabled=cni.get("enabled", bool, config.cni.enabled),
            chained=cni.get("chained", bool, config.cni.chained),
        ),
    )
    warnings += _init_image(node, image) + _tracer(node) + unmodelled.warnings(node)
    return config, warnings
