"""The chart values that change Istio's sidecar in ways this injector does not model.

Each entry is a dotted key under the values, Istio 1.20.8's default for it, and what a
different value would change in Istio's sidecar. A value equal to the default (or
absent) changes nothing and says nothing; any other value becomes one warning, so that
a setting we cannot honour is never silently a different Pod.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from injector.istio_config.document import Node

# key -> (Istio 1.20.8's default, what another value changes in Istio's sidecar)
UNMODELLED: dict[str, tuple[Any, str]] = {
    "global.proxy.includeOutboundPorts": ("", "istio-init's -q"),
    "global.proxy.startupProbe.enabled": (True, "the proxy's startup probe"),
    "global.proxy.startupProbe.failureThreshold": (600, "the proxy's startup probe"),
    "global.proxy.enableCoreDump": (False, "an enable-core-dump init container"),
    "global.proxy.privileged": (False, "privileged proxy and init containers"),
    "global.proxy.capNetBindService": (False, "NET_BIND_SERVICE and root for the proxy"),
    "global.proxy.lifecycle": ({}, "the proxy's lifecycle hooks"),
    "global.logAsJson": (False, "--log_as_json on the proxy and init container"),
    "global.meshID": ("", "ISTIO_META_MESH_ID"),
    "global.jwtPolicy": ("third-party-jwt", "JWT_POLICY and the istio-token volume"),
    "global.pilotCertProvider": ("istiod", "PILOT_CERT_PROVIDER and the CA mounts"),
    "global.caName": ("", "the workload certificate volume"),
    "global.sts.servicePort": (0, "--stsPort on the proxy"),
    "global.sds.token.aud": ("istio-ca", "the istio-token audience"),
}


def _lookup(node: Node, dotted: str, default: Any) -> Any:
    """The value at `dotted`, of the default's type (IstioConfigError otherwise), or None."""
    *parents, key = dotted.split(".")
    for part in parents:
        node = node.child(part)
    kind = Mapping if isinstance(default, dict) else type(default)
    return node.get(key, kind, None)


def _same(value: Any, default: Any) -> bool:
    return value is None or value == default or (not value and not default)


def warnings(node: Node) -> list[str]:
    """One sentence for each key of UNMODELLED whose value is not Istio's default."""
    found = []
    for key, (default, changes) in UNMODELLED.items():
        value = _lookup(node, key, default)
        if not _same(value, default):
            found.append(f"{node.origin}: {key}={_text(value)} not modelled ({changes})")
    return found


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict | list):
        return "(set)"
    shown = str(value)
    return shown if len(shown) <= 40 else shown[:40] + "..."
