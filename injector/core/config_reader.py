"""Reading one mapping of the configuration file strictly: each value of the expected
type, a choice among named options, a list of non-empty strings, nested sections, and no
key left unread.

`Reader` knows nothing of the settings themselves (`config_file` says which keys there
are and how each is checked); it keeps the path to the value it reads, so that every
`ConfigError` names the key (`proxy.resources.limits.cpu`), and it refuses unknown keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from injector.core.config import ConfigError

# A type as an error message says it.
_KINDS: dict[type, str] = {
    int: "an integer",
    float: "a number",
    str: "a string",
    bool: "true or false",
    dict: "a mapping",
    list: "a list",
}


class Reader:
    """Reads one mapping of the file, remembering where it is for error messages."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where or 'the top level'} must be a mapping")
        self.data, self.where, self.seen = data, where, set[str]()

    def path(self, key: str) -> str:
        """Where `key` is, as error messages name it (`proxy.resources.limits.cpu`)."""
        return f"{self.where}.{key}" if self.where else key

    def get(self, key: str, kind: type | tuple[type, ...], default: Any) -> Any:
        self.seen.add(key)
        if key not in self.data or self.data[key] is None:
            return default
        value = self.data[key]
        if kind is str and isinstance(value, bool):
            # YAML turns an unquoted true/false into a bool; accept it for string switches.
            value = "true" if value else "false"
        if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
            what = _KINDS.get(kind, "a number") if isinstance(kind, type) else "a number"
            raise ConfigError(f"{self.path(key)} must be {what}, got {value!r}")
        return value

    def choice(self, key: str, options: Sequence[str], default: str) -> Any:
        value = self.get(key, str, default)
        if value not in options:
            raise ConfigError(f"{self.path(key)} must be one of {', '.join(options)}")
        return value

    def strings(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self.get(key, list, list(default))
        if not all(isinstance(item, str) and item for item in value):
            raise ConfigError(f"{self.path(key)} must be a list of non-empty strings")
        return tuple(value)

    def child(self, key: str) -> Reader:
        return Reader(self.get(key, Mapping, {}), self.path(key))

    def done(self) -> None:
        unknown = sorted(str(key) for key in self.data if key not in self.seen)
        if unknown:
            raise ConfigError(f"unknown key {self.path(unknown[0])}")
