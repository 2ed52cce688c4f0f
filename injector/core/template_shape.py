"""What a sidecar template may hold, checked when it is loaded (`template` compiles it).

Under `spec`: at most one init container and at most one container with fixed names
(the proxy; a template may have none, as proxyless gRPC's `grpc-simple`), a container
named `*` whose `env` and `volumeMounts` every app container gets, volumes with fixed
names, and Pod sysctls; nothing else of a Pod can be injected. An optional `metadata`
holds only labels and annotations, each a fixed string or one of the per-Pod
`METADATA_PLACEHOLDERS`. Every problem is a `TemplateError` naming the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

# Per-Pod values of a template's `metadata`, worked out by the injection (`mesh_metadata`).
METADATA_PLACEHOLDERS = frozenset(
    {
        "pod.canonicalName",
        "pod.canonicalRevision",
        "pod.revision",
        "pod.defaultContainer",
        "pod.defaultLogsContainer",
    }
)
# The name of the `spec.containers` entry that stands for every app container.
APP_CONTAINERS = "*"
_APP_FIELDS = frozenset({"name", "env", "volumeMounts"})

# A placeholder's name starts with its area; any other ${...} is text, such as a shell
# variable in an init container's command.
_NAME = r"((?:proxy|init|mesh|pod)\.[A-Za-z0-9_.]+)"
PLACEHOLDER = re.compile(r"\$\{" + _NAME + r"\}")
SPLICE = re.compile(r"\$\{\*" + _NAME + r"\}")

Values = Mapping[str, Any]
Node = Callable[[Values], Any]


class TemplateError(ValueError):
    """The template cannot be used; the message names the file and the problem."""


def single_container(spec: Mapping[str, Any], key: str, where: str) -> str:
    """The name of the one container `spec[key]` must hold."""
    items = spec.get(key)
    if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
        raise TemplateError(f"{where}: spec.{key} must hold exactly one container")
    name = items[0].get("name")
    if not isinstance(name, str) or not name or PLACEHOLDER.search(name):
        raise TemplateError(f"{where}: spec.{key}[0].name must be a fixed, non-empty string")
    return name


def containers(spec: Mapping[str, Any], where: str) -> str | None:
    """The proxy's name (None: no proxy), after checking `spec.containers`: at most one
    container with a fixed name and at most one `*` holding only env and volumeMounts."""
    items = spec.get("containers")
    if not isinstance(items, list) or not items or not all(isinstance(c, dict) for c in items):
        raise TemplateError(f"{where}: spec.containers must be a list of containers")
    app = [c for c in items if c.get("name") == APP_CONTAINERS]
    fixed = [c for c in items if c.get("name") != APP_CONTAINERS]
    if len(app) > 1 or len(fixed) > 1:
        raise TemplateError(f"{where}: spec.containers may hold one proxy and one {APP_CONTAINERS}")
    if app and set(app[0]) - _APP_FIELDS:
        extra = sorted(set(app[0]) - _APP_FIELDS)[0]
        raise TemplateError(f"{where}: an app container's {extra} cannot be injected")
    return single_container({"containers": fixed}, "containers", where) if fixed else None


def metadata(data: Mapping[str, Any], where: str) -> Node | None:
    """The compiled `metadata` (labels and annotations of fixed strings or metadata
    placeholders), None when the template has none."""
    if "metadata" not in data:
        return None
    section = data["metadata"]
    if not isinstance(section, dict) or set(section) - {"labels", "annotations"}:
        raise TemplateError(f"{where}: metadata may only hold labels and annotations")
    # Per key and name: (the placeholder, or None for a fixed value, and the text).
    compiled: dict[str, dict[str, tuple[str | None, str]]] = {}
    for key, entries in section.items():
        if not isinstance(entries, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in entries.items()
        ):
            raise TemplateError(f"{where}: metadata.{key} must map names to strings")
        compiled[key] = {}
        for name, value in entries.items():
            whole = PLACEHOLDER.fullmatch(value)
            if PLACEHOLDER.search(value) and (not whole or whole[1] not in METADATA_PLACEHOLDERS):
                raise TemplateError(f"{where}: metadata.{key}.{name}: unknown placeholder")
            compiled[key][name] = (whole[1] if whole else None, value)

    def render(values: Values) -> dict[str, Any]:
        return {
            key: {
                name: text if placeholder is None else values[placeholder]
                for name, (placeholder, text) in entries.items()
                if placeholder is None or values.get(placeholder) is not None
            }
            for key, entries in compiled.items()
        }

    return render


def spec_parts(spec: dict[str, Any], where: str) -> tuple[str | None, str | None, tuple[str, ...]]:
    """Check a template's `spec`; return its proxy's and init container's names (None:
    none) and its volumes' names."""
    extra = set(spec) - {"initContainers", "containers", "volumes", "securityContext"}
    if extra:
        raise TemplateError(f"{where}: spec.{sorted(extra)[0]} cannot be injected")
    context = spec.get("securityContext", {})
    if not isinstance(context, dict) or set(context) - {"sysctls"}:
        # Only sysctls, which are added by name: nothing of the Pod's is replaced.
        raise TemplateError(f"{where}: spec.securityContext may only hold sysctls")
    proxy = containers(spec, where)
    init = single_container(spec, "initContainers", where) if "initContainers" in spec else None
    volumes = spec.get("volumes") or []
    if not isinstance(volumes, list) or not all(
        (isinstance(v, str) and SPLICE.fullmatch(v))
        or (
            isinstance(v, dict)
            and isinstance(v.get("name"), str)
            and not PLACEHOLDER.search(v["name"])
        )
        for v in volumes
    ):
        raise TemplateError(f"{where}: spec.volumes must be a list of volumes with fixed names")
    volume_names = tuple(v["name"] for v in volumes if isinstance(v, dict))
    if len(set(volume_names)) != len(volume_names) or (proxy is not None and proxy == init):
        raise TemplateError(f"{where}: injected names must be unique")
    return proxy, init, volume_names
