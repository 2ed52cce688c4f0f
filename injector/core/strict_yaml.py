"""YAML as the injector reads files people write (manifests for `inject`, the
configuration file, templates): PyYAML's safe loader, except that a mapping naming a
key twice is an error naming the line, where PyYAML keeps the last value silently (two
`metadata:` would drop the first).

Keys merged in with `<<` may still be overridden by the mapping's own keys, as YAML
intends; only the keys written in the mapping itself are compared.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import yaml

_MERGE_TAG = "tag:yaml.org,2002:merge"


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (yaml.constructor.ConstructorError)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _value in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key} (first at line {seen[key]})",
                    key_node.start_mark,
                )
            seen[key] = line
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def load(stream: str | IO[str]) -> Any:
    """One document, as yaml.safe_load, duplicate keys refused."""
    return yaml.load(stream, Loader=StrictLoader)  # noqa: S506 (a SafeLoader subclass)


def load_all(stream: str | IO[str]) -> Iterator[Any]:
    """Every document, as yaml.safe_load_all, duplicate keys refused."""
    return yaml.load_all(stream, Loader=StrictLoader)
