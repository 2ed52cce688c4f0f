"""One of Istio's inputs as data: text parsed as YAML or JSON, read key by key.

`parse` turns a source's text into a `Node`; a `Node` reads typed values and remembers
where it is, so that every `IstioConfigError` names the source (its origin, e.g.
"--valuesFile values.json") and the key (`global.proxy.statusPort`). Unlike our own
file, Istio's inputs carry many keys that have nothing to do with the sidecar: a `Node`
ignores the keys nobody asks for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import yaml

from injector.core.config import ConfigError
from injector.core.config_file import yaml_problem


class IstioConfigError(ConfigError):
    """One of Istio's inputs cannot be used; the message names the source and the key."""


_KINDS: dict[type, str] = {
    str: "a string",
    bool: "true or false",
    int: "a whole number",
    list: "a list",
    Mapping: "a mapping",
}


def _shown(value: Any) -> str:
    """A wrong value for a message: its kind, and the value when it is short."""
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return repr(text) if len(text) <= 40 else repr(text[:40] + "...")


@dataclass(frozen=True)
class Node:
    """A mapping of one source, at `where` (dotted keys from the top, "" at the top)."""

    data: Mapping[str, Any]
    origin: str
    where: str = ""

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def fail(self, key: str, problem: str) -> NoReturn:
        raise IstioConfigError(f"{self.origin}: key {self.path(key)}: {problem}")

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def get(self, key: str, kind: type, default: Any) -> Any:
        """The value of `key` if it is of `kind`, `default` when absent or null."""
        value = self.data.get(key)
        if value is None:
            return default
        if kind is int and isinstance(value, str) and value.isascii() and value.isdigit():
            return int(value)  # Helm's --set and hand-written JSON give "15020" too
        if kind is bool and value in ("true", "false"):
            return value == "true"
        if kind is str and isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)  # e.g. a tag written as a number
        if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
            self.fail(key, f"must be {_KINDS[kind]}, got {_shown(value)}")
        return value

    def child(self, key: str) -> Node:
        return Node(self.get(key, Mapping, {}), self.origin, self.path(key))

    def strings(self, key: str) -> tuple[str, ...]:
        items = self.get(key, list, [])
        if not all(isinstance(item, str) for item in items):
            self.fail(key, "must be a list of strings")
        return tuple(items)


def parse(text: str, origin: str) -> Node:
    """The top-level mapping of `text` (YAML, or JSON, which YAML reads too)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise IstioConfigError(f"{origin}: {yaml_problem(err)}") from None
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise IstioConfigError(f"{origin}: must be a mapping (YAML or JSON), got {_shown(data)}")
    return Node(data, origin)
