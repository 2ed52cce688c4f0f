"""The sidecar template: a partial Pod loaded once as data, with `${name}` placeholders.

Placeholders are resolved inside the loaded structure, never in YAML text, so a value can
only ever become one string (or one whole list/mapping the code built): it cannot add a
key, a container or a privilege. A string leaf that is exactly `${name}` takes the value
whole; `${name}` inside a longer string is replaced as text.

The template is compiled once per configuration. Subtrees without placeholders are
built once and shared by every render, so a render only allocates the parts that vary.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from injector.core.memo import Memo

SIDECAR_FILE = "sidecar.yaml"

# The placeholders a template may use; the engine provides each of them.
PLACEHOLDERS = frozenset(
    {
        "proxy.image",
        "proxy.imagePullPolicy",
        "proxy.uid",
        "proxy.resources",
        "init.args",
        "init.resources",
        "mesh.clusterDomain",
        "mesh.caAddress",
        "mesh.clusterId",
        "mesh.trustDomain",
        "pod.ports",
        "pod.appContainers",
    }
)

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.]+)\}")

Values = Mapping[str, Any]
Node = Callable[[Values], Any]


class TemplateError(ValueError):
    """The template cannot be used; the message names the file and the problem."""


def _compile(value: Any, where: str) -> tuple[Node, bool]:
    """Return a render function for `value` and whether it depends on values."""
    if isinstance(value, str):
        return _compile_string(value, where)
    if isinstance(value, dict):
        parts = {key: _compile(item, f"{where}.{key}") for key, item in value.items()}
        if not any(dynamic for _, dynamic in parts.values()):
            return (lambda _v, fixed=value: fixed), False
        return (lambda v: {key: node(v) for key, (node, _) in parts.items()}), True
    if isinstance(value, list):
        items = [_compile(item, f"{where}[{index}]") for index, item in enumerate(value)]
        if not any(dynamic for _, dynamic in items):
            return (lambda _v, fixed=value: fixed), False
        return (lambda v: [node(v) for node, _ in items]), True
    if value is None or isinstance(value, bool | int | float):
        return (lambda _v, fixed=value: fixed), False
    raise TemplateError(f"{where}: unsupported YAML value {type(value).__name__}")


def _compile_string(text: str, where: str) -> tuple[Node, bool]:
    found = _PLACEHOLDER.findall(text)
    unknown = sorted(set(found) - PLACEHOLDERS)
    if unknown:
        raise TemplateError(f"{where}: unknown placeholder ${{{unknown[0]}}}")
    if not found:
        return (lambda _v: text), False
    whole = _PLACEHOLDER.fullmatch(text)
    if whole:
        name = whole[1]
        return (lambda v: v[name]), True
    return (lambda v: _PLACEHOLDER.sub(lambda m: str(v[m[1]]), text)), True


RENDER_CACHE_SIZE = 512


@dataclass(frozen=True)
class Template:
    """A compiled sidecar template.

    Renders are remembered by their values (the Pods of one workload render alike), so
    what `render` returns is shared: callers must copy before changing it.
    """

    text: str
    proxy_name: str
    init_name: str
    volume_names: tuple[str, ...]
    _render: Node
    _cache: Memo[bytes, dict[str, Any]] = field(
        default_factory=lambda: Memo(max_entries=RENDER_CACHE_SIZE), compare=False
    )

    @staticmethod
    def key(values: Values) -> bytes:
        """Equal for equal values: what renders are remembered by."""
        return orjson.dumps(values, option=orjson.OPT_SORT_KEYS)

    def render(self, values: Values, *, key: bytes | None = None) -> dict[str, Any]:
        """Return {"initContainer", "proxy", "volumes"} for one Pod's values."""
        key = key or self.key(values)
        found = self._cache.get(key)
        if found is None:
            spec: dict[str, Any] = self._render(values)["spec"]
            found = {
                "initContainer": spec["initContainers"][0],
                "proxy": spec["containers"][0],
                "volumes": spec.get("volumes") or [],
            }
            # The render holds each value once more, and the key holds them as JSON.
            self._cache.put(key, found, size=2 * len(key))
        return found


def _single_container(spec: Mapping[str, Any], key: str, where: str) -> str:
    items = spec.get(key)
    if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
        raise TemplateError(f"{where}: spec.{key} must hold exactly one container")
    name = items[0].get("name")
    if not isinstance(name, str) or not name or _PLACEHOLDER.search(name):
        raise TemplateError(f"{where}: spec.{key}[0].name must be a fixed, non-empty string")
    return name


def parse(text: str, where: str) -> Template:
    """Compile template text; `where` names the source in errors."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise TemplateError(f"{where}: not valid YAML: {err}") from None
    if not isinstance(data, dict) or set(data) != {"spec"} or not isinstance(data["spec"], dict):
        raise TemplateError(f"{where}: the template must be a mapping with only a spec")
    spec = data["spec"]
    extra = set(spec) - {"initContainers", "containers", "volumes"}
    if extra:
        raise TemplateError(f"{where}: spec.{sorted(extra)[0]} cannot be injected")
    proxy = _single_container(spec, "containers", where)
    init = _single_container(spec, "initContainers", where)
    volumes = spec.get("volumes") or []
    if not isinstance(volumes, list) or not all(
        isinstance(v, dict)
        and isinstance(v.get("name"), str)
        and not _PLACEHOLDER.search(v["name"])
        for v in volumes
    ):
        raise TemplateError(f"{where}: spec.volumes must be a list of volumes with fixed names")
    volume_names = tuple(v["name"] for v in volumes)
    if len(set(volume_names)) != len(volume_names) or proxy == init:
        raise TemplateError(f"{where}: injected names must be unique")
    render, _ = _compile(data, "")
    return Template(text, proxy, init, volume_names, render)


def load(directory: Path) -> Template:
    """Load `sidecar.yaml` from a template directory."""
    path = directory / SIDECAR_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise TemplateError(f"{path}: cannot read: {err.strerror}") from None
    return parse(text, str(path))
