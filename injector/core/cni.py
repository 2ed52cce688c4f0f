"""Istio's CNI plugin: when it sets up the redirect, the Pod gets what the plugin reads.

With `cni.enabled` (Istio's values.istio_cni.enabled) the node's CNI plugin writes the
iptables rules, so the init container only checks them: it is `istio-validation`,
unprivileged, with `--run-validation --skip-rule-apply`. The plugin takes its settings
from the Pod's annotations, so the effective redirect settings (those `istio-init` would
have been given) are written as the `sidecar.istio.io/interceptionMode` and
`traffic.sidecar.istio.io/*` annotations. Not chained (Multus), the Pod also asks for
the plugin in `k8s.v1.cni.cncf.io/networks`. All as Istio 1.20.8's sidecar template.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from injector.core import names

VALIDATION_CONTAINER = "istio-validation"
ISTIO_CNI_NETWORK = "default/istio-cni"
_ALWAYS_EXCLUDED = "15090,15021"

# istio-iptables flag -> the annotation the plugin reads it from, and whether Istio
# writes it when empty.
_FLAGS = {
    "-m": (names.INTERCEPTION_MODE, True),
    "-i": (names.INCLUDE_OUTBOUND_IP_RANGES, False),
    "-x": (names.EXCLUDE_OUTBOUND_IP_RANGES, False),
    "-b": (names.INCLUDE_INBOUND_PORTS, False),
    "-d": (names.EXCLUDE_INBOUND_PORTS, True),
    "-q": (names.INCLUDE_OUTBOUND_PORTS, True),
    "-o": (names.EXCLUDE_OUTBOUND_PORTS, True),
    "-k": (names.KUBEVIRT_INTERFACES, True),
    "-c": (names.EXCLUDE_INTERFACES, True),
}


def _flag_values(args: list[str]) -> dict[str, str]:
    found, index = {}, 0
    while index < len(args) - 1:
        if args[index] in _FLAGS:
            found[args[index]] = args[index + 1]
            index += 1
        index += 1
    return found


def pod_annotations(
    existing: Mapping[str, str], init_args: list[str], *, chained: bool
) -> dict[str, str]:
    """The annotations the plugin reads, from the redirect arguments `istio-init` would
    have had (`-d` without the ports the proxy always excludes)."""
    found: dict[str, str] = {}
    if not chained:
        found[names.MULTUS_NETWORKS] = append_network(existing.get(names.MULTUS_NETWORKS, ""))
    for flag, given in _flag_values(init_args).items():
        key, always = _FLAGS[flag]
        value = given.removeprefix(_ALWAYS_EXCLUDED).removeprefix(",") if flag == "-d" else given
        if value or always:
            found[key] = value
    return found


def append_network(existing: str) -> str:
    """`existing` Multus networks with Istio's plugin added, in the form they are in (a
    JSON list or a comma-separated list); unchanged when it is there already or the
    JSON cannot be read."""
    if not existing:
        return ISTIO_CNI_NETWORK
    end = existing.rfind("]")
    if end >= 0:
        try:
            networks = json.loads(existing)
        except ValueError:
            return existing
        if not isinstance(networks, list) or any(
            isinstance(n, dict) and n.get("name") == ISTIO_CNI_NETWORK for n in networks
        ):
            return existing
        return f'{existing[:end]}, {{"name": "{ISTIO_CNI_NETWORK}"}}{existing[end:]}'
    if any(item.strip() == ISTIO_CNI_NETWORK for item in existing.split(",")):
        return existing
    return f"{existing}, {ISTIO_CNI_NETWORK}"


def validation(init: Mapping[str, Any], uid: int) -> dict[str, Any]:
    """The init container as the validation of the plugin's rules: no capabilities, a
    read-only root filesystem, the proxy's user."""
    return {
        **init,
        "name": VALIDATION_CONTAINER,
        "args": [*init.get("args", []), "--run-validation", "--skip-rule-apply"],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsGroup": uid,
            "runAsUser": uid,
            "runAsNonRoot": True,
        },
    }
