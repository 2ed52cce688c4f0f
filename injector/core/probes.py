"""App probe rewriting (Istio 1.20.8 `app_probe.go`).

The kubelet probes in plaintext; under STRICT mutual TLS the sidecar refuses that, and
the Pod never becomes Ready. So every readiness, liveness and startup probe of an app
container (httpGet, tcpSocket or grpc) becomes an httpGet on the agent's status port at
`/app-health/<container>/{readyz,livez,startupz}`, keeping its timing fields, and the
agent replays the original, which it reads as JSON from `ISTIO_KUBE_APP_PROBERS`.

Reinvocation is safe: a probe already in its rewritten form is left alone and never
registered twice, and a container another webhook added since is covered, its entries
merged into the existing env value (existing entries win, as in Istio).
Istio 1.20.8 rewrites no lifecycle hooks; main also sends httpGet/tcpSocket hooks to
`/app-lifecycle/...`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from injector.core import grammar, names

KINDS = (("readinessProbe", "readyz"), ("livenessProbe", "livez"), ("startupProbe", "startupz"))
# The port the agent's prober table is keyed to (the mesh's status port): a probe already
# on it is taken as rewritten and not registered.
MESH_STATUS_PORT = 15020
_HANDLERS = ("httpGet", "tcpSocket", "grpc")
_PROBED = frozenset(kind for kind, _ in KINDS)


def enabled(annotations: Mapping[str, str], *, default: bool, status_port: int) -> bool:
    """Whether to rewrite: the Pod's switch if it parses, else the configured default;
    never without a status port."""
    if status_port == 0:
        return False
    return grammar.switch(annotations.get(names.REWRITE_PROBES), default)


def _prober(probe: Mapping[str, Any], ports: Mapping[str, Any]) -> dict[str, Any] | None:
    """The agent's copy of a probe, named port resolved; None when it cannot be replayed
    (unknown port name) or is on the status port already."""
    for handler in _HANDLERS:
        if isinstance(probe.get(handler), dict):
            break
    else:
        return None
    action = dict(probe[handler])
    if handler != "grpc":
        port = action.get("port")
        if isinstance(port, str):
            if port not in ports:
                return None
            action["port"] = ports[port]
        elif port == MESH_STATUS_PORT:
            return None
    if handler == "grpc":
        action.setdefault("service", None)
    found: dict[str, Any] = {handler: action}
    if probe.get("timeoutSeconds"):
        found["timeoutSeconds"] = probe["timeoutSeconds"]
    return found


def _rewritten(probe: Mapping[str, Any], url: str, status_port: int) -> dict[str, Any]:
    if isinstance(probe.get("httpGet"), dict):
        action = {**probe["httpGet"], "port": status_port, "path": url}
        if action.get("scheme") == "HTTPS":
            action["scheme"] = "HTTP"
        return {**probe, "httpGet": action}
    kept = {k: v for k, v in probe.items() if k not in ("tcpSocket", "grpc")}
    return {"httpGet": {"path": url, "port": status_port}, **kept}


def _ports(container: Mapping[str, Any]) -> dict[str, Any]:
    return {
        p["name"]: p.get("containerPort")
        for p in container.get("ports") or []
        if isinstance(p, dict) and p.get("name")
    }


def _container(
    container: Mapping[str, Any], status_port: int, probers: dict[str, Any]
) -> dict[str, Any] | None:
    """A rewritten copy of the container, or None when nothing changes."""
    changed: dict[str, Any] = {}
    ports: dict[str, Any] | None = None
    for kind, suffix in KINDS:
        probe = container.get(kind)
        if not probe or not isinstance(probe, dict):
            continue
        url = f"/app-health/{container.get('name', '')}/{suffix}"
        action = probe.get("httpGet")
        if isinstance(action, dict):
            if action.get("port") == status_port and action.get("path") == url:
                continue  # rewritten already
        elif not (isinstance(probe.get("tcpSocket"), dict) or isinstance(probe.get("grpc"), dict)):
            continue  # exec, or no handler: the kubelet runs it as it is
        ports = _ports(container) if ports is None else ports
        found = _prober(probe, ports)
        if found is not None:
            probers[url] = found
        changed[kind] = _rewritten(probe, url, status_port)
    return {**container, **changed} if changed else None


def rewrite(items: list[dict[str, Any]], *, status_port: int, probers: dict[str, Any]) -> None:
    """Rewrite the app probes of `items` (a list the caller owns) in place, collecting
    what the agent must replay into `probers`."""
    for index, container in enumerate(items):
        if container.get("name") == names.PROXY_CONTAINER or not _PROBED.intersection(container):
            continue
        replaced = _container(container, status_port, probers)
        if replaced is not None:
            items[index] = replaced


def merge_env(env: list[dict[str, Any]], probers: Mapping[str, Any]) -> None:
    """Record `probers` in the proxy env (a list the caller owns): a new entry, or merged
    into the existing value with the existing entries winning."""
    if not probers:
        return
    for index, item in enumerate(env):
        if item.get("name") == names.ENV_APP_PROBERS:
            try:
                old = orjson.loads(item.get("value") or "{}")
            except orjson.JSONDecodeError:
                old = {}
            merged = {**probers, **(old if isinstance(old, dict) else {})}
            env[index] = {"name": names.ENV_APP_PROBERS, "value": _encode(merged)}
            return
    # Istio 1.20.8 adds nothing when re-injecting a Pod that had no entry (istio#56102);
    # the new container's probes would then fail, so it is added here.
    env.append({"name": names.ENV_APP_PROBERS, "value": _encode(probers)})


def _encode(probers: Mapping[str, Any]) -> str:
    return orjson.dumps(dict(sorted(probers.items()))).decode()
