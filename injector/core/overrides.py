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

from injector.core import grammar, names, proxy_resources, vocabulary
from injector.core.config import Config, ca_address

# Ports of the proxy that inbound redirection must always leave alone: Envoy's
# Prometheus port and the readiness port; the agent's status port follows the excluded
# ports (Istio 1.20.8's order), unless it is turned off.
_ALWAYS_EXCLUDED_INBOUND = ("15090", "15021")


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


def _verbatim(parse: Callable[[str], list[str]]) -> Callable[[str], list[str]]:
    """Validate with `parse` but keep the tokens as written, as Istio passes them on
    (iptables accepts a CIDR with host bits set, such as 10.96.0.1/24)."""

    def check(text: str) -> list[str]:
        parse(text)
        return (
            ["*"]
            if text.strip(" ") == "*"
            else [t.strip(" ") for t in text.split(",") if t.strip(" ")]
        )

    return check


def _init_args(
    annotations: Mapping[str, str], config: Config, vocab: Mapping[str, Any], problems: list[str]
) -> list[str]:
    defaults = config.interception

    def read(key: str, default: str, parse: Callable[[str], list[str]]) -> str:
        return ",".join(_setting(annotations, key, default, parse, problems))

    include_ranges = read(
        names.INCLUDE_OUTBOUND_IP_RANGES,
        defaults.includeOutboundIPRanges,
        _verbatim(lambda text: grammar.parse_cidrs(text, wildcard=True)),
    )
    exclude_ranges = read(
        names.EXCLUDE_OUTBOUND_IP_RANGES,
        defaults.excludeOutboundIPRanges,
        _verbatim(grammar.parse_cidrs),
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
    status = [str(vocab["proxy.statusPort"])] if vocab["proxy.statusPort"] else []
    exclude_inbound = ",".join(dict.fromkeys([*_ALWAYS_EXCLUDED_INBOUND, *excluded, *status]))
    uid = str(config.proxy.uid)
    args = ["istio-iptables", "-p", "15001", "-z", "15006", "-u", uid]
    args += ["-m", vocab["proxy.interceptionMode"]]
    args += ["-i", include_ranges, "-x", exclude_ranges, "-b", include_ports, "-d", exclude_inbound]
    # Istio 1.20.8 passes these only when the annotation is present or the default is set.
    for flag, key, default, parse in (
        ("-q", names.INCLUDE_OUTBOUND_PORTS, "", grammar.parse_ports),
        ("-o", names.EXCLUDE_OUTBOUND_PORTS, defaults.excludeOutboundPorts, grammar.parse_ports),
        ("-k", names.KUBEVIRT_INTERFACES, "", grammar.parse_interfaces),
        ("-c", names.EXCLUDE_INTERFACES, defaults.excludeInterfaces, grammar.parse_interfaces),
    ):
        if key in annotations or default:
            args += [flag, read(key, default, parse)]
    return [*args, f"--log_output_level={vocab['proxy.agentLogLevel']}"]


def _native(
    annotations: Mapping[str, str], config: Config, supported: bool | None, warnings: list[str]
) -> bool:
    wanted: bool | None = None
    if names.NATIVE_SIDECAR in annotations:
        try:
            wanted = grammar.parse_bool(annotations[names.NATIVE_SIDECAR])
        except grammar.GrammarError:
            shown = grammar.printable(annotations[names.NATIVE_SIDECAR])
            warnings.append(f"annotation {names.NATIVE_SIDECAR}={shown} is not a boolean; ignored")
    if wanted is None and config.nativeSidecar != "auto":
        wanted = config.nativeSidecar == "true"
    if wanted is None:
        # Without a cluster to ask for its version, the classic sidecar is the safe choice.
        return bool(supported)
    if wanted and supported is False:
        # An API server known to be older than 1.29 does not run native sidecars: 1.28
        # drops the init container's restartPolicy (its gate is off), and the proxy would
        # then block the Pod's start for ever. Unknown (None): the request is honoured.
        warnings.append(NATIVE_REFUSED)
        return False
    return wanted


NATIVE_REFUSED = (
    "a native sidecar was asked for, but the API server is older than 1.29"
    " and does not run them: the Pod gets a classic sidecar"
)


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
        names.INCLUDE_OUTBOUND_PORTS,
        names.KUBEVIRT_INTERFACES,
        *vocabulary.KEYS,
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
    # The values `vocabulary` resolved from the proxy annotations.
    vocabulary: Mapping[str, Any] = field(default_factory=dict)


def _init_resources(
    config: Config, proxy: dict[str, dict[str, str]], *, guaranteed: bool
) -> dict[str, dict[str, str]]:
    """istio-init's resources: the proxy's own, as Istio 1.20.8 renders them (its
    template uses one `resources` block for both), unless `proxy.initResources` sets
    them; a Guaranteed Pod's limits equal its requests either way."""
    override = config.proxy.initResources
    if override is None:
        return {part: dict(values) for part, values in proxy.items()}
    init = override.as_dict()
    if guaranteed:
        init["limits"] = dict(init["requests"])
    return init


def settings(annotations: Mapping[str, str], config: Config, *, guaranteed: bool) -> Settings:
    """Resources and redirect arguments for these annotations, or raise `Refused`."""
    problems: list[str] = []
    warnings: list[str] = []
    proxy = proxy_resources.choose(
        annotations, config.proxy.resources, guaranteed, problems, warnings
    )
    init = _init_resources(config, proxy, guaranteed=guaranteed)
    vocab = vocabulary.resolve(annotations, config, problems)
    args = _init_args(annotations, config, vocab, problems)
    if problems:
        raise Refused(problems)
    return Settings(proxy, init, args, tuple(warnings), vocab)


def settled(
    annotations: Mapping[str, str],
    *,
    config: Config,
    native_supported: bool | None,
    shared: Settings,
    values: dict[str, Any],
) -> Resolved:
    """What a Pod's annotations settle besides `values` (the placeholder values given):
    whether the proxy is native, and the warnings."""
    warnings = list(shared.warnings)
    native = _native(annotations, config, native_supported, warnings)
    return Resolved(values=values, native=native, warnings=warnings)


def shared_values(shared: Settings, config: Config) -> dict[str, Any]:
    """The placeholder values that follow from the settings alone (all but `pod_values`)."""
    mesh = config.mesh
    return {
        **shared.vocabulary,
        # Empty: no imagePullPolicy, Kubernetes' default for the image applies (Istio's
        # chart default, values.global.imagePullPolicy "").
        "proxy.imagePullPolicy": config.proxy.imagePullPolicy or None,
        "proxy.uid": config.proxy.uid,
        "proxy.resources": shared.proxy,
        "init.args": shared.args,
        "init.resources": shared.init,
        "mesh.clusterDomain": mesh.clusterDomain,
        "mesh.caAddress": mesh.caAddress or ca_address(config.revision),
        "revision": config.revision,
        "mesh.clusterId": mesh.clusterId,
        "mesh.trustDomain": mesh.trustDomain,
    }


# The placeholders whose values come from the Pod itself.
POD_VALUES = ("pod.ports", "pod.appContainers")


def pod_values(spec: Mapping[str, Any]) -> dict[str, str]:
    """The placeholder values of one Pod: its containers' ports (JSON) and app names."""
    containers = spec["containers"]
    ports = [port for c in containers for port in c.get("ports") or []]
    return {
        "pod.ports": orjson.dumps(ports).decode(),
        "pod.appContainers": ",".join(
            c["name"] for c in containers if c["name"] != names.PROXY_CONTAINER
        ),
    }
