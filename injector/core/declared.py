"""Customising by declaring: a Pod that declares `istio-proxy` or `istio-init` itself.

Istio 1.20.8 merges what the Pod declares over the injected container (its
`reapplyOverwrittenContainers`, a strategic merge): the declared fields win, nested
objects merge, lists with a merge key merge by it (env by name, ports by containerPort,
volumeMounts by mountPath, volumeDevices by devicePath; injected items first, then the
declared ones that are new), other lists are replaced, and `image: auto` means the
configured image. A gateway Deployment is such a Pod, with only `istio-proxy`.
What was declared is recorded, as Istio does, in `proxy.istio.io/overrides`.

A declared proxy's own user also moves the redirect's exemption (Istio 1.20.8's
`adjustInitContainerUser`): `istio-init`'s `-u` becomes that user, so the proxy's own
traffic is not sent back to itself. `proxy_user` is the one reading of it, for the
injection and for the policy that refuses app containers running as the exempt id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from injector.core import names

DECLARABLE = frozenset({names.PROXY_CONTAINER, names.INIT_CONTAINER})
AUTO_IMAGE = "auto"

_MERGE_KEYS = {
    "env": "name",
    "ports": "containerPort",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
}
# A probe or hook has exactly one handler: a declared one replaces the injected one.
_HANDLERS = frozenset({"exec", "httpGet", "tcpSocket", "grpc", "sleep"})


def _merge_list(base: list[Any], patch: list[Any], key: str) -> list[Any]:
    by_key = {item.get(key): item for item in patch if isinstance(item, dict)}
    merged = [
        _merge_map(item, by_key[item.get(key)]) if item.get(key) in by_key else item
        for item in base
    ]
    known = {item.get(key) for item in base}
    return merged + [
        item for item in patch if not (isinstance(item, dict) and item.get(key) in known)
    ]


def _merge_map(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    if _HANDLERS.intersection(patch):
        base = {k: v for k, v in base.items() if k not in _HANDLERS}
    merged = dict(base)
    for key, value in patch.items():
        before = merged.get(key)
        if value is None:
            merged.pop(key, None)
        elif key in _MERGE_KEYS and isinstance(before, list) and isinstance(value, list):
            merged[key] = _merge_list(before, value, _MERGE_KEYS[key])
        elif isinstance(before, dict) and isinstance(value, dict):
            merged[key] = _merge_map(before, value)
        else:
            merged[key] = value
    return merged


def without_auto_image(declared: Mapping[str, Any]) -> dict[str, Any]:
    """The declared container; `image: auto` (the configured image) leaves image unset."""
    return {k: v for k, v in declared.items() if not (k == "image" and v == AUTO_IMAGE)}


def merge(injected: Mapping[str, Any], declared: Mapping[str, Any]) -> dict[str, Any]:
    """The injected container with the declared one merged over it."""
    return _merge_map(injected, without_auto_image(declared))


def with_additions(container: Mapping[str, Any], additions: Mapping[str, Any]) -> dict[str, Any]:
    """An app container with what a template adds to every app container (env,
    volumeMounts) merged in, its own entries winning and keeping their place: Istio
    merges the template over the container, then the container as it was over that."""
    own = {k: v for k, v in container.items() if v is not None}
    return _merge_map(_merge_map(own, additions), own)


def _user_id(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def proxy_user(spec: Mapping[str, Any]) -> int | None:
    """The runAsUser of the Pod's own istio-proxy (the first one declared), if it sets
    one. 0 counts as unset: iptables cannot exempt root's traffic (`--uid-owner 0`)."""
    for key in ("containers", "initContainers"):
        for container in spec.get(key) or []:
            if isinstance(container, dict) and container.get("name") == names.PROXY_CONTAINER:
                context = container.get("securityContext")
                user = _user_id(context.get("runAsUser")) if isinstance(context, dict) else None
                return user or None
    return None


def exempt_id(spec: Mapping[str, Any], default: int) -> int:
    """The id whose traffic the redirect lets through (`-u`; istio-iptables takes the
    same number for the group when no `-g` is given): the declared proxy's user, else
    `default` (the configured proxy uid)."""
    return proxy_user(spec) or default


def with_user(init: Mapping[str, Any], user: int) -> dict[str, Any]:
    """`init` with the value after its first `-u` replaced by `user` (a copy)."""
    args = list(init.get("args") or [])
    for index, arg in enumerate(args[:-1]):
        if arg == "-u":
            args[index + 1] = str(user)
            break
    return {**init, "args": args}


def take(
    items: list[dict[str, Any]], name: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split `items` into those named `name` and the rest (both new lists)."""
    found = [c for c in items if c.get("name") == name]
    if not found:
        return [], items
    return found, [c for c in items if c.get("name") != name]


def overrides_annotation(declared: Mapping[str, list[dict[str, Any]]]) -> str:
    """Istio's record of what the Pod declared: {"containers": [...], "initContainers": [...]}."""
    return orjson.dumps({key: items for key, items in declared.items() if items}).decode()
