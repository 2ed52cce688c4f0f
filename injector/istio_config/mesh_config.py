"""The mesh config (ConfigMap `istio`, key `mesh`: MeshConfig YAML) over a `Config`.

Mapped: `trustDomain`, `enablePrometheusMerge`, and `defaultConfig`, whose fields this
injector writes into the proxy's PROXY_CONFIG (those `injector.core.proxy_config`
accepts) merged field by field over ours. A `defaultConfig` field outside those is a
warning unless it holds Istio's default (which Istio leaves out of PROXY_CONFIG too).
`defaultProviders` and `rootNamespace` are checked and have no effect on the sidecar;
the other MeshConfig keys shape istiod, not the sidecar, and are ignored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from injector.core import grammar, proxy_config
from injector.core.config import Config
from injector.istio_config.document import Node

# ProxyConfig fields that Istio 1.20.8 leaves out of PROXY_CONFIG when they hold these
# defaults (its cleanProxyConfig), so they change nothing in the sidecar.
_ISTIO_DEFAULTS: dict[str, Any] = {
    "configPath": "./etc/istio/proxy",
    "binaryPath": "/usr/local/bin/envoy",
    "serviceCluster": "istio-proxy",
    "controlPlaneAuthPolicy": "MUTUAL_TLS",
    "proxyAdminPort": 15000,
    "statNameLength": 189,
    "statusPort": 15020,
    "envoyMetricsService": {},
    "envoyAccessLogService": {},
}
# MeshConfig's iptables ports, rendered into istio-init's -p and -z.
_LISTEN_PORTS = {"proxyListenPort": 15001, "proxyInboundListenPort": 15006}


def _default_config(node: Node, current: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    section = node.child("defaultConfig")
    merged, warnings = dict(current), []
    for key in sorted(str(k) for k in section.data):
        value = section.data[key]
        if key in proxy_config.ACCEPTED:
            try:
                proxy_config.fields({key: value})
            except proxy_config.ProxyConfigError as err:
                section.fail(key, str(err).removeprefix(f"field {key} "))
            merged[key] = value
        elif value is not None and _ISTIO_DEFAULTS.get(key, object()) != value:
            warnings.append(
                f"{node.origin}: defaultConfig.{key} not modelled (not in the proxy's PROXY_CONFIG)"
            )
    return merged, warnings


def apply(config: Config, node: Node) -> tuple[Config, list[str]]:
    """`config` with the mesh config's settings, and what it sets that we do not model."""
    mesh = config.mesh
    node.get("defaultProviders", Mapping, {})
    node.get("rootNamespace", str, "")
    proxy, warnings = (
        _default_config(node, mesh.proxyConfig)
        if node.has("defaultConfig")
        else (dict(mesh.proxyConfig), [])
    )
    for key, default in _LISTEN_PORTS.items():
        if node.get(key, int, default) != default:
            warnings.append(f"{node.origin}: {key} not modelled (istio-init's redirect port)")
    trust_domain = node.get("trustDomain", str, mesh.trustDomain) or mesh.trustDomain
    try:
        grammar.parse_trust_domain(trust_domain)
    except grammar.GrammarError as err:
        node.fail("trustDomain", str(err))
    changed = dataclasses.replace(
        mesh,
        trustDomain=trust_domain,
        enablePrometheusMerge=node.get("enablePrometheusMerge", bool, mesh.enablePrometheusMerge),
        proxyConfig=proxy,
    )
    return dataclasses.replace(config, mesh=changed), warnings
