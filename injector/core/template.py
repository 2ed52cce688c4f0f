"""The sidecar template: a partial Pod loaded once as data, with `${name}` placeholders.

Placeholders are resolved inside the loaded structure, never in YAML text, so a value can
only ever become one string (or one whole list/mapping the code built): it cannot add a
key, a container or a privilege. A string leaf that is exactly `${name}` takes the value
whole, and a mapping key whose value is `None` is left out (an optional field); a list
item that is exactly `${*name}` is replaced by the items of that list (none for an empty
one); `${name}` inside a longer string is replaced as text. A placeholder's name starts
with `proxy.`, `init.`, `mesh.` or `pod.`; any other `${...}` (a shell variable) is text.

A template directory holds one template per file, named by the file (`sidecar.yaml` is
`sidecar`); a Pod selects templates by name with `inject.istio.io/templates`.

What a template may hold is checked by `template_shape`. A container named `*` stands
for every app container: each gets its `env` and `volumeMounts` (its own entries win, as
Istio's strategic merge gives them). An optional `metadata` sets exactly the labels and
annotations it lists (a per-Pod placeholder that is absent leaves its key out); a
template without `metadata` gets the sidecar's (`mesh_metadata`).

The template is compiled once per configuration. Subtrees without placeholders are
built once and shared by every render, so a render only allocates the parts that vary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from injector.core import strict_yaml, template_shape
from injector.core.memo import Memo
from injector.core.template_shape import APP_CONTAINERS, Node, Values
from injector.core.template_shape import PLACEHOLDER as _PLACEHOLDER
from injector.core.template_shape import SPLICE as _SPLICE

# The error for a template that cannot be used (defined with the checks).
TemplateError = template_shape.TemplateError

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
        # Istio's proxy vocabulary (`vocabulary`).
        "proxy.logLevel",
        "proxy.componentLogLevel",
        "proxy.agentLogLevel",
        "proxy.interceptionMode",
        "proxy.readinessProbe",
        "proxy.startupProbe",
        "proxy.agentReadinessProbe",
        "proxy.securityContext",
        "proxy.bootstrapEnv",
        "proxy.bootstrapMount",
        "pod.bootstrapVolume",
        "pod.userVolumes",
        "proxy.userMounts",
    }
)


def _compile(value: Any, where: str) -> tuple[Node, bool]:
    """Return a render function for `value` and whether it depends on values."""
    if isinstance(value, str):
        return _compile_string(value, where)
    if isinstance(value, dict):
        parts = {key: _compile(item, f"{where}.{key}") for key, item in value.items()}
        if not any(dynamic for _, dynamic in parts.values()):
            return (lambda _v, fixed=value: fixed), False
        return (lambda v: _without_none({key: node(v) for key, (node, _) in parts.items()})), True
    if isinstance(value, list):
        items = [_compile_item(item, f"{where}[{index}]") for index, item in enumerate(value)]
        if not any(dynamic for _, dynamic in items):
            return (lambda _v, fixed=value: fixed), False
        return (lambda v: [out for node, _ in items for out in node(v)]), True
    if value is None or isinstance(value, bool | int | float):
        return (lambda _v, fixed=value: fixed), False
    raise TemplateError(f"{where}: unsupported YAML value {type(value).__name__}")


def _without_none(mapping: dict[str, Any]) -> dict[str, Any]:
    return {key: item for key, item in mapping.items() if item is not None}


def _compile_item(item: Any, where: str) -> tuple[Node, bool]:
    """A list item as a function giving the items it stands for (one, or a splice)."""
    splice = _SPLICE.fullmatch(item) if isinstance(item, str) else None
    if splice is None:
        node, dynamic = _compile(item, where)
        return (lambda v: [node(v)]), dynamic
    name = splice[1]
    if name not in PLACEHOLDERS:
        raise TemplateError(f"{where}: unknown placeholder ${{*{name}}}")
    return (lambda v: list(v[name])), True


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
    # None for a template without a proxy (`grpc-simple`).
    proxy_name: str | None
    # None for a template without an init container (`gateway`).
    init_name: str | None
    volume_names: tuple[str, ...]
    _render: Node
    # The template's own labels and annotations (None: the sidecar's, from the code).
    _metadata: Node | None = None
    # Whether it adds to every app container (a "*" container: proxyless gRPC).
    adds_to_apps: bool = False
    _cache: Memo[bytes, dict[str, Any]] = field(
        default_factory=lambda: Memo(max_entries=RENDER_CACHE_SIZE), compare=False
    )
    # Every template of the directory by name, this one included (filled by `load`).
    named: dict[str, Template] = field(default_factory=dict, compare=False)

    @staticmethod
    def key(values: Values) -> bytes:
        """Equal for equal values: what renders are remembered by."""
        return orjson.dumps(values, option=orjson.OPT_SORT_KEYS)

    def select(self, names: str | None) -> Template:
        """The template a Pod names (a comma list; None: this one); ValueError when a name
        is unknown. Istio merges several templates over each other; one is all this
        injector renders, so several different names are refused too."""
        if names is None:
            return self
        chosen = list(dict.fromkeys(n.strip(" ") for n in names.split(",") if n.strip(" ")))
        unknown = [n for n in chosen if n not in self.named]
        if unknown:
            shown = repr(unknown[0][:40])
            raise ValueError(f"no template named {shown} (have {', '.join(sorted(self.named))})")
        if len(chosen) != 1:
            raise ValueError("must name one template")
        return self.named[chosen[0]]

    @property
    def has_metadata(self) -> bool:
        """Whether the template sets its own labels and annotations."""
        return self._metadata is not None

    def metadata(self, values: Values) -> dict[str, dict[str, str]]:
        """{"labels", "annotations"} the template sets for one Pod's metadata values."""
        found = {} if self._metadata is None else self._metadata(values)
        return {key: dict(found.get(key) or {}) for key in ("labels", "annotations")}

    def render(self, values: Values, *, key: bytes | None = None) -> dict[str, Any]:
        """Return {"initContainer", "proxy", "volumes", "sysctls", "app"} for one Pod's
        values; "proxy" and "initContainer" are None when the template has none, "app" is
        what every app container gets (None: nothing)."""
        key = key or self.key(values)
        found = self._cache.get(key)
        if found is None:
            spec: dict[str, Any] = self._render(values)["spec"]
            containers = spec.get("containers") or []
            found = {
                "initContainer": (spec.get("initContainers") or [None])[0],
                "proxy": next((c for c in containers if c["name"] != APP_CONTAINERS), None),
                "volumes": spec.get("volumes") or [],
                "sysctls": (spec.get("securityContext") or {}).get("sysctls") or [],
                "app": next((c for c in containers if c["name"] == APP_CONTAINERS), None),
            }
            # The render holds each value once more, and the key holds them as JSON.
            self._cache.put(key, found, size=2 * len(key))
        return found


def parse(text: str, where: str) -> Template:
    """Compile template text; `where` names the source in errors."""
    try:
        data = strict_yaml.load(text)
    except yaml.YAMLError as err:
        raise TemplateError(f"{where}: not valid YAML: {err}") from None
    if (
        not isinstance(data, dict)
        or set(data) - {"metadata"} != {"spec"}
        or not isinstance(data["spec"], dict)
    ):
        raise TemplateError(f"{where}: the template must be a mapping of a spec (and metadata)")
    spec = data["spec"]
    proxy, init, volume_names = template_shape.spec_parts(spec, where)
    render, _ = _compile({"spec": spec}, "")
    adds_to_apps = any(c.get("name") == APP_CONTAINERS for c in spec["containers"])
    return Template(
        text, proxy, init, volume_names, render, template_shape.metadata(data, where), adds_to_apps
    )


def _read(path: Path) -> Template:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise TemplateError(f"{path}: cannot read: {err.strerror}") from None
    return parse(text, str(path))


def load(directory: Path) -> Template:
    """Load every `<name>.yaml` of a template directory; return `sidecar`, the default,
    with all of them (itself included) in `named`."""
    sidecar = _read(directory / SIDECAR_FILE)
    sidecar.named[SIDECAR_FILE.removesuffix(".yaml")] = sidecar
    for path in sorted(directory.glob("*.yaml")):
        if path.name != SIDECAR_FILE:
            sidecar.named[path.name.removesuffix(".yaml")] = _read(path)
    return sidecar
