"""Istio's per-Pod proxy annotations: image, log levels, interception mode, status port,
the proxy's readiness, a custom bootstrap and user volumes.

Each value is parsed with a strict grammar; a bad one becomes a problem that names the
annotation (and the Pod is refused). Nothing here writes text into a template: every
result is one validated value, or a list or mapping built here, for one placeholder.
Behaviour follows Istio 1.20.8's sidecar template (injection-template.yaml).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from injector.core import grammar, names, user_volumes
from injector.core.config import Config

T = TypeVar("T")

# Istio's default (values.yaml at 1.20.8); the other defaults are settings (config.Proxy).
STARTUP_FAILURE_THRESHOLD = 600
# The agent's own status port, fixed in Istio 1.20.8's grpc-agent template.
AGENT_STATUS_PORT = 15020
# Where the custom bootstrap ConfigMap is mounted, and the file the agent reads.
BOOTSTRAP_VOLUME = "custom-bootstrap-volume"
BOOTSTRAP_DIR = "/etc/istio/custom-bootstrap"
BOOTSTRAP_FILE = f"{BOOTSTRAP_DIR}/custom_bootstrap.json"
_INT32 = 2**31 - 1
INTERCEPTION_MODES = ("REDIRECT", "TPROXY", "NONE")
# The mode without a redirect: istio-init is left out.
NO_REDIRECT = "NONE"

# Every annotation this module reads; the engine caches its results by their values.
KEYS = frozenset(
    {
        names.PROXY_IMAGE, names.LOG_LEVEL, names.COMPONENT_LOG_LEVEL, names.AGENT_LOG_LEVEL,
        names.INTERCEPTION_MODE, names.STATUS_PORT, names.READINESS_INITIAL_DELAY,
        names.READINESS_PERIOD, names.READINESS_FAILURE_THRESHOLD,
        names.READINESS_APPLICATION_PORTS, names.USER_VOLUME, names.USER_VOLUME_MOUNT,
        names.BOOTSTRAP_OVERRIDE,
    }
)  # fmt: skip


# Declined annotations, with why (Istio 1.20.8 acts on the exact value "true" only).
DECLINED = {
    names.ENABLE_CORE_DUMP: "it needs a privileged init container",
    names.CAP_NET_BIND_SERVICE: "it runs the proxy as root",
}


def declined(annotations: Mapping[str, str]) -> list[str]:
    """A warning for each declined annotation the Pod sets to "true"."""
    return [
        f"annotation {key}=true ignored: {why}"
        for key, why in DECLINED.items()
        if annotations.get(key) == "true"
    ]


def _read(
    annotations: Mapping[str, str],
    key: str,
    default: T,
    parse: Callable[[str], T],
    problems: list[str],
) -> T:
    if key not in annotations:
        return default
    text = annotations[key]
    try:
        return parse(text)
    except grammar.GrammarError as err:
        problems.append(f"annotation {key}={grammar.printable(text)}: {err}")
        return default


def _interception(text: str) -> str:
    # NONE: no redirect at all (no istio-init), as in Istio 1.20.8.
    if text not in INTERCEPTION_MODES:
        raise grammar.GrammarError("expected REDIRECT, TPROXY or NONE")
    return text


def ready_on(port: int) -> dict[str, Any]:
    """The proxy's readiness endpoint on `port` (Envoy's 15021, the agent's 15020)."""
    return {"path": "/healthz/ready", "port": port}


def _probes(
    annotations: Mapping[str, str], config: Config, status_port: int, problems: list[str]
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The proxy's readiness and startup probes; none when the status port is off."""
    defaults = config.proxy.readiness
    timing = {
        key: _read(annotations, annotation, getattr(defaults, key), parse, problems)
        for key, annotation, parse in (
            ("initialDelaySeconds", names.READINESS_INITIAL_DELAY,
             lambda t: grammar.parse_uint(t, low=0, high=_INT32)),
            ("periodSeconds", names.READINESS_PERIOD,
             lambda t: grammar.parse_uint(t, low=1, high=_INT32)),
            ("failureThreshold", names.READINESS_FAILURE_THRESHOLD,
             lambda t: grammar.parse_uint(t, low=1, high=_INT32)),
        )
    }  # fmt: skip
    # Validated, but without effect in Istio 1.20.8 (the agent no longer reads it).
    no_ports: list[str] = []
    _read(annotations, names.READINESS_APPLICATION_PORTS, no_ports, grammar.parse_ports, problems)
    if status_port == 0:
        return None, None
    ready = ready_on(15021)
    readiness: dict[str, Any] = {"httpGet": ready, "timeoutSeconds": 3}
    # Istio renders initialDelaySeconds: 0, which its serialisation then drops.
    readiness |= {k: v for k, v in timing.items() if v or k != "initialDelaySeconds"}
    startup = {
        "httpGet": dict(ready), "periodSeconds": 1, "timeoutSeconds": 3,
        "failureThreshold": STARTUP_FAILURE_THRESHOLD,
    }  # fmt: skip
    return readiness, startup


def security_context(mode: str, uid: int) -> dict[str, Any]:
    """The proxy's securityContext; TPROXY needs NET_ADMIN and root to bind transparently."""
    tproxy = mode == "TPROXY"
    capabilities: dict[str, Any] = {"drop": ["ALL"]}
    if tproxy:
        capabilities = {"add": ["NET_ADMIN"], "drop": ["ALL"]}
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": capabilities,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsGroup": uid,
        "runAsNonRoot": not tproxy,
        "runAsUser": 0 if tproxy else uid,
    }


def _image(annotations: Mapping[str, str], config: Config, problems: list[str]) -> str:
    image = _read(annotations, names.PROXY_IMAGE, config.proxy.image, grammar.parse_image, problems)
    # Istio 1.20.8 takes the annotation only when it names a repository (contains "/").
    return image if "/" in image else config.proxy.image


def _bootstrap(annotations: Mapping[str, str], problems: list[str]) -> dict[str, list[Any]]:
    name = _read(annotations, names.BOOTSTRAP_OVERRIDE, "", grammar.parse_object_name, problems)
    if not name:
        return {"proxy.bootstrapEnv": [], "proxy.bootstrapMount": [], "pod.bootstrapVolume": []}
    return {
        "proxy.bootstrapEnv": [{"name": "ISTIO_BOOTSTRAP_OVERRIDE", "value": BOOTSTRAP_FILE}],
        "proxy.bootstrapMount": [{"name": BOOTSTRAP_VOLUME, "mountPath": BOOTSTRAP_DIR}],
        "pod.bootstrapVolume": [{"name": BOOTSTRAP_VOLUME, "configMap": {"name": name}}],
    }


def _user(annotations: Mapping[str, str], problems: list[str]) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {"pod.userVolumes": [], "proxy.userMounts": []}
    for key, value, parse in (
        (names.USER_VOLUME, "pod.userVolumes", user_volumes.volumes),
        (names.USER_VOLUME_MOUNT, "proxy.userMounts", user_volumes.mounts),
    ):
        if key in annotations:
            try:
                found[value] = parse(annotations[key], key)
            except user_volumes.Invalid as err:
                problems.append(str(err))
    return found


def resolve(annotations: Mapping[str, str], config: Config, problems: list[str]) -> dict[str, Any]:
    """The template values these annotations give, appending each bad value to `problems`."""
    # The mesh's default ProxyConfig (Istio's meshConfig.defaultConfig) holds the default.
    default_mode = str(config.mesh.proxyConfig.get("interceptionMode", "REDIRECT"))
    mode = _read(annotations, names.INTERCEPTION_MODE, default_mode, _interception, problems)
    status_port = _read(
        annotations, names.STATUS_PORT, config.proxy.statusPort,
        lambda t: grammar.parse_uint(t, low=0, high=65535), problems,
    )  # fmt: skip
    readiness, startup = _probes(annotations, config, status_port, problems)
    # The agent without Envoy (grpc-agent) is ready on its own status port.
    agent = None if readiness is None else {**readiness, "httpGet": {**ready_on(AGENT_STATUS_PORT)}}
    proxy = config.proxy
    levels = (
        (names.LOG_LEVEL, "proxy.logLevel", proxy.logLevel, grammar.parse_envoy_level),
        (names.COMPONENT_LOG_LEVEL, "proxy.componentLogLevel", proxy.componentLogLevel,
         grammar.parse_envoy_components),
        (names.AGENT_LOG_LEVEL, "proxy.agentLogLevel", proxy.agentLogLevel,
         grammar.parse_agent_levels),
    )  # fmt: skip
    values: dict[str, Any] = {
        value: _read(annotations, key, default, parse, problems)
        for key, value, default, parse in levels
    }
    return values | {
        "proxy.image": _image(annotations, config, problems),
        "proxy.interceptionMode": mode,
        "proxy.statusPort": status_port,
        "proxy.readinessProbe": readiness,
        "proxy.startupProbe": startup,
        "proxy.agentReadinessProbe": agent,
        "proxy.securityContext": security_context(mode, config.proxy.uid),
        **_bootstrap(annotations, problems),
        **_user(annotations, problems),
    }


def collisions(
    values: Mapping[str, Any], spec: Mapping[str, Any], injected: frozenset[str]
) -> list[str]:
    """Problems with the user volumes against this Pod: a name taken by the Pod or by an
    injected volume, or a mount of a volume that nobody defines."""
    problems = []
    pod_volumes = {v.get("name") for v in spec.get("volumes") or []}
    own = {v["name"] for v in values["pod.userVolumes"]}
    for name in sorted(own & (pod_volumes | injected)):
        problems.append(f"annotation {names.USER_VOLUME}: volume {name} already exists in the Pod")
    known = own | pod_volumes | injected
    for mount in values["proxy.userMounts"]:
        if mount["name"] not in known:
            problems.append(
                f"annotation {names.USER_VOLUME_MOUNT}: {mount['name']} names no volume of the"
                f" Pod or of {names.USER_VOLUME}"
            )
    return problems


def duplicates(pod_volumes: Any, volumes: Any, mounts: Any) -> list[str]:
    """Problems with what the Pod would be given: a volume name twice (a user volume
    named like the custom bootstrap's), a mount path twice in the proxy. Kubernetes would
    refuse such a Pod with a less helpful message."""
    volume_names = [v.get("name") for v in [*(pod_volumes or []), *volumes]]
    paths = [m.get("mountPath") for m in mounts or []]
    # Almost every Pod has neither: two set sizes say so without the per-item loop.
    if len(set(volume_names)) == len(volume_names) and len(set(paths)) == len(paths):
        return []
    problems = []
    for name in sorted(_twice(volume_names), key=str):
        problems.append(f"annotation {names.USER_VOLUME}: volume {name} is defined twice")
    for path in sorted(_twice(paths), key=str):
        problems.append(f"annotation {names.USER_VOLUME_MOUNT}: mount path {path} is used twice")
    return problems


def _twice(items: Iterable[Any]) -> set[Any]:
    """The items seen more than once (one pass: a Pod may have hundreds of volumes)."""
    seen: set[Any] = set()
    twice: set[Any] = set()
    for item in items:
        (twice if item in seen else seen).add(item)
    return twice
