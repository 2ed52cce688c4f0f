"""Per-Pod values for the template, resolved from configuration and annotations.

Every annotation value is checked with a strict grammar before it is used. A value that
would change *what* is injected (resources, redirect rules) and cannot be parsed refuses
the Pod with a message naming the annotation; a switch that cannot be parsed falls back to
its default with a warning.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from injector.core import grammar, names, proxy_resources
from injector.core.config import Config

# Ports of the proxy that inbound redirection must always leave alone:
# Envoy's Prometheus port, the readiness port and the agent's status port.
_ALWAYS_EXCLUDED_INBOUND = ("15090", "15021", "15020")


class Refused(Exception):
    """The Pod's annotations cannot be honoured; `problems` lists each one."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


@dataclass
class Resolved:
    values: dict[str, Any]
    native: bool
    warnings: list[str] = field(default_factory=list)


def _setting(
    annotations: Mapping[str, str],
    key: str,
    default: str,
    parse: Callable[[str], list[str]],
    problems: list[str],
) -> list[str]:
    text = annotations.get(key, default)
    try:
        return parse(text)
    except grammar.GrammarError as err:
        problems.append(f"annotation {key}={grammar.printable(text)}: {err}")
        return []


def _init_args(annotations: Mapping[str, str], config: Config, problems: list[str]) -> list[str]:
    defaults = config.interception

    def read(key: str, default: str, parse: Callable[[str], list[str]]) -> str:
        return ",".join(_setting(annotations, key, default, parse, problems))

    include_ranges = read(
        names.INCLUDE_OUTBOUND_IP_RANGES,
        defaults.includeOutboundIPRanges,
        lambda text: grammar.parse_cidrs(text, wildcard=True),
    )
    exclude_ranges = read(
        names.EXCLUDE_OUTBOUND_IP_RANGES, defaults.excludeOutboundIPRanges, grammar.parse_cidrs
    )
    include_ports = read(
        names.INCLUDE_INBOUND_PORTS,
        defaults.includeInboundPorts,
        lambda text: grammar.parse_ports(text, wildcard=True),
    )
    excluded = _setting(
        annotations,
        names.EXCLUDE_INBOUND_PORTS,
        defaults.excludeInboundPorts,
        grammar.parse_ports,
        problems,
    )
    exclude_inbound = ",".join(dict.fromkeys([*_ALWAYS_EXCLUDED_INBOUND, *excluded]))
    exclude_outbound = read(
        names.EXCLUDE_OUTBOUND_PORTS, defaults.excludeOutboundPorts, grammar.parse_ports
    )
    interfaces = read(
        names.EXCLUDE_INTERFACES, defaults.excludeInterfaces, grammar.parse_interfaces
    )
    uid = str(config.proxy.uid)
    args = ["istio-iptables", "-p", "15001", "-z", "15006", "-u", uid, "-m", "REDIRECT"]
    args += ["-i", include_ranges, "-x", exclude_ranges, "-b", include_ports, "-d", exclude_inbound]
    if exclude_outbound:
        args += ["-o", exclude_outbound]
    if interfaces:
        args += ["-c", interfaces]
    return [*args, "--log_output_level=default:info"]


def _native(
    annotations: Mapping[str, str], config: Config, supported: bool | None, warnings: list[str]
) -> bool:
    if names.NATIVE_SIDECAR in annotations:
        try:
            return grammar.parse_bool(annotations[names.NATIVE_SIDECAR])
        except grammar.GrammarError:
            shown = grammar.printable(annotations[names.NATIVE_SIDECAR])
            warnings.append(f"annotation {names.NATIVE_SIDECAR}={shown} is not a boolean; ignored")
    if config.nativeSidecar == "auto":
        # Without a cluster to ask for its version, the classic sidecar is the safe choice.
        return bool(supported)
    return config.nativeSidecar == "true"


def owned_by_job(pod: Mapping[str, Any]) -> bool:
    """True for a Pod a Job made (a CronJob's Pods too: a CronJob makes Jobs)."""
    references = (pod.get("metadata") or {}).get("ownerReferences")
    return isinstance(references, list) and any(
        isinstance(ref, dict) and ref.get("kind") == "Job"
        and str(ref.get("apiVersion", "")).startswith("batch/")
        for ref in references
    )  # fmt: skip


# Why a Job's Pod gets the classic sidecar, by what is known of the API server.
_CLASSIC_BECAUSE = {
    False: "the API server is older than 1.29",
    True: "native sidecars are turned off for it",
    None: "the API server's version is not known",
}


def job_warning(native_supported: bool | None) -> str:
    """A classic proxy never exits, so a Job whose Pod has one never completes, whatever
    made it classic: the warning is given in all three cases, with that reason."""
    return (
        f"this Job's Pod gets a classic sidecar ({_CLASSIC_BECAUSE[native_supported]}):"
        " the Job will not complete while the proxy keeps running"
    )


# Annotations that change the resources or the redirect rules.
SHAPING_KEYS = frozenset(
    {
        *proxy_resources.RESOURCE_KEYS,
        names.INCLUDE_OUTBOUND_IP_RANGES,
        names.EXCLUDE_OUTBOUND_IP_RANGES,
        names.INCLUDE_INBOUND_PORTS,
        names.EXCLUDE_INBOUND_PORTS,
        names.EXCLUDE_OUTBOUND_PORTS,
        names.EXCLUDE_INTERFACES,
    }
)


@dataclass(frozen=True)
class Settings:
    """The values that follow from the configuration and the shaping annotations only,
    so every Pod of a workload shares them (and they can be computed once)."""

    proxy: dict[str, dict[str, str]]
    init: dict[str, dict[str, str]]
    args: list[str]
    warnings: tuple[str, ...]


def settings(annotations: Mapping[str, str], config: Config, *, guaranteed: bool) -> Settings:
    """Resources and redirect arguments for these annotations, or raise `Refused`."""
    problems: list[str] = []
    warnings: list[str] = []
    proxy = proxy_resources.choose(
        annotations, config.proxy.resources, guaranteed, problems, warnings
    )
    init = config.proxy.initResources.as_dict()
    if guaranteed:
        init["limits"] = dict(init["requests"])
    args = _init_args(annotations, config, problems)
    if problems:
        raise Refused(problems)
    return Settings(proxy, init, args, tuple(warnings))


def resolve(
    spec: Mapping[str, Any],
    *,
    annotations: Mapping[str, str],
    config: Config,
    native_supported: bool | None,
    shared: Settings | None = None,
) -> Resolved:
    """Resolve every placeholder value for one Pod, or raise `Refused`.

    `shared` is what `settings` returned for this Pod's annotations, when the caller has
    it already; it is computed here otherwise.
    """
    if shared is None:
        shared = settings(annotations, config, guaranteed=proxy_resources.is_guaranteed(spec))
    warnings = list(shared.warnings)
    containers = spec["containers"]
    ports = [port for c in containers for port in c.get("ports") or []]
    mesh = config.mesh
    values = {
        "proxy.image": config.proxy.image,
        "proxy.imagePullPolicy": config.proxy.imagePullPolicy,
        "proxy.uid": config.proxy.uid,
        "proxy.resources": shared.proxy,
        "init.args": shared.args,
        "init.resources": shared.init,
        "mesh.clusterDomain": mesh.clusterDomain,
        "mesh.caAddress": mesh.caAddress,
        "mesh.clusterId": mesh.clusterId,
        "mesh.trustDomain": mesh.trustDomain,
        "pod.ports": orjson.dumps(ports).decode(),
        "pod.appContainers": ",".join(
            c["name"] for c in containers if c["name"] != names.PROXY_CONTAINER
        ),
    }
    native = _native(annotations, config, native_supported, warnings)
    return Resolved(values=values, native=native, warnings=warnings)
