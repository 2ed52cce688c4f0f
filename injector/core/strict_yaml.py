"""YAML as the injector reads and writes files people write (manifests for `inject`, the
configuration file, templates): PyYAML's safe loader, except that a mapping naming a
key twice is an error naming the line, where PyYAML keeps the last value silently (two
`metadata:` would drop the first).

`documents` also gives each document's own text, so that `inject` can pass an object
it does not change through as it was written (anchors, comments inside it, quoting),
and `dump` writes a changed object out whole, without the `&id001` anchors PyYAML makes
for values it meets twice.

Keys merged in with `<<` may still be overridden by the mapping's own keys, as YAML
intends; only the keys written in the mapping itself are compared.
"""

from __future__ import annotations

import io
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


def documents(text: str, *, name: str) -> Iterator[tuple[Any, str]]:
    """Each document, and the text of its root node; errors name the input `name`."""
    stream = io.StringIO(text)
    stream.name = name  # PyYAML names the input by its stream's name in errors
    loader = StrictLoader(stream)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                break
            document = loader.construct_document(node)
            yield document, text[node.start_mark.index : node.end_mark.index]
    finally:
        loader.dispose()


class _WholeDumper(yaml.SafeDumper):
    """SafeDumper that writes a value met twice in full, never as an anchor and alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump(document: Any) -> str:
    return yaml.dump(document, Dumper=_WholeDumper, sort_keys=False)
