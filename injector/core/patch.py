"""The JSON Patch (RFC 6902) that turns the original Pod into its mutated copy.

The pipeline edits a copy of the Pod (never the input) and this module derives the patch
from the two, cheaply: the copy shares every part it did not change with the original, so
an identity check skips those parts without comparing them. What is emitted:

- labels and annotations: one `add`/`replace`/`remove` per key (keys escaped, RFC 6901),
  or the whole map when the Pod had none;
- a list whose existing items stay in place (same name): the changed items diffed field
  by field (a rewritten probe is one `replace`), one `add` per appended item;
- any other changed list or value (the proxy moved first): one `replace` of that whole
  field, which stays correct whatever changed inside it.

`changes` emits the same operations from the fields an injection sets, without the
mutated copy: what the engine sends. A field it is given as `Appended` (the render
plan's volumes) has its operations serialized already. `diff` stays as its oracle
(tests run both).

`metadata.managedFields` is never diffed nor touched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

Operation = dict[str, Any]


@dataclass(frozen=True)
class Appended:
    """For `changes`: the list field at `path` gets items appended whose operations are
    serialized already (a render plan's volumes): `ops`, one `add <path>/-` each, and
    `whole`, the items as one list, the value when the field was absent or null."""

    path: str
    ops: tuple[orjson.Fragment, ...]
    whole: orjson.Fragment

    @staticmethod
    def of(path: str, items: Sequence[Any]) -> Appended:
        ops = (orjson.dumps({"op": "add", "path": f"{path}/-", "value": i}) for i in items)
        whole = orjson.Fragment(orjson.dumps(items))
        return Appended(path, tuple(map(orjson.Fragment, ops)), whole)


_MAPS = frozenset({"labels", "annotations"})
_SKIPPED = frozenset({"managedFields"})
_ABSENT = object()


def escape(key: str) -> str:
    """Escape one JSON Pointer reference token (RFC 6901)."""
    if "~" in key or "/" in key:
        return key.replace("~", "~0").replace("/", "~1")
    return key


def _same(a: Any, b: Any) -> bool:
    return a is b or a == b


def _list(ops: list[Operation], path: str, old: list[Any], new: list[Any]) -> None:
    """Items kept in place are diffed field by field (a rewritten probe is one `replace`,
    not the whole container list); appended items are added; anything else replaces."""
    if len(new) < len(old):
        ops.append({"op": "replace", "path": path, "value": new})
        return
    changed = []
    for index, a in enumerate(old):
        b = new[index]
        if a is b:
            continue
        if not (isinstance(a, dict) and isinstance(b, dict) and a.get("name") == b.get("name")):
            ops.append({"op": "replace", "path": path, "value": new})
            return
        changed.append(index)
    for index in changed:
        _fields(ops, f"{path}/{index}", old[index], new[index])
    appended = f"{path}/-"
    for item in new[len(old) :]:
        ops.append({"op": "add", "path": appended, "value": item})


def _map(ops: list[Operation], path: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    for key, value in new.items():
        if key not in old:
            ops.append({"op": "add", "path": f"{path}/{escape(key)}", "value": value})
        elif not _same(old[key], value):
            ops.append({"op": "replace", "path": f"{path}/{escape(key)}", "value": value})
    for key in old:
        if key not in new:
            ops.append({"op": "remove", "path": f"{path}/{escape(key)}"})


def _field(ops: list[Operation], path: str, key: str, before: Any, value: Any) -> None:
    """One field of an object that is set to `value` (`before`: _ABSENT if it was not)."""
    if before is value or key in _SKIPPED:
        return
    where = f"{path}/{escape(key)}"
    if before is _ABSENT or before is None:
        op = "add" if before is _ABSENT else "replace"
        ops.append({"op": op, "path": where, "value": value})
    elif key in _MAPS and isinstance(before, dict) and isinstance(value, dict):
        _map(ops, where, before, value)
    elif isinstance(before, list) and isinstance(value, list):
        _list(ops, where, before, value)
    elif before != value:
        ops.append({"op": "replace", "path": where, "value": value})


def _fields(
    ops: list[Operation], path: str, old: Mapping[str, Any], new: Mapping[str, Any]
) -> None:
    """One level of an object: per field add/remove, lists appended or replaced."""
    for key, value in new.items():
        before = old.get(key, _ABSENT)
        if before is not value:  # most fields: shared with the original, skipped here
            _field(ops, path, key, before, value)
    for key in old:
        if key not in new and key not in _SKIPPED:
            ops.append({"op": "remove", "path": f"{path}/{escape(key)}"})


def diff(original: Mapping[str, Any], mutated: Mapping[str, Any]) -> list[Operation]:
    """Operations that turn `original` into `mutated` (a Pod and its edited copy)."""
    ops: list[Operation] = []
    for part in ("metadata", "spec"):
        old, new = original.get(part), mutated.get(part)
        if old is new or new is None:
            continue
        if not isinstance(old, dict):
            ops.append({"op": "add" if part not in original else "replace", "path": f"/{part}",
                        "value": new})  # fmt: skip
        else:
            _fields(ops, f"/{part}", old, new)
    return ops


def changes(original: Mapping[str, Any], parts: Mapping[str, Mapping[str, Any]]) -> list[Operation]:
    """The operations `diff` gives for a Pod whose `parts` ("metadata", "spec") have the
    given fields set, in that order, and nothing else changed: emitted from the changes
    alone, without a mutated copy of the Pod or a walk over the fields left as they are.

    The order is `diff`'s: a part's fields that were there already in the part's own
    order, then the new ones in the order they are set (as a copy of the part would
    hold them)."""
    ops: list[Operation] = []
    for part, fields in parts.items():
        old = original.get(part)
        if not isinstance(old, dict):
            ops.append({"op": "add" if part not in original else "replace", "path": f"/{part}",
                        "value": dict(fields)})  # fmt: skip
            continue
        path = f"/{part}"
        for key, before in old.items():
            if key in fields:
                _set(ops, path, key, before, fields[key])
        for key, value in fields.items():
            if key not in old:
                _set(ops, path, key, _ABSENT, value)
    return ops


def _set(ops: list[Any], path: str, key: str, before: Any, value: Any) -> None:
    if not isinstance(value, Appended):
        _field(ops, path, key, before, value)
    elif isinstance(before, list):
        ops.extend(value.ops)  # the items after the field's own (an empty list too)
    else:  # absent or null (pod_shape lets nothing else through): the items, whole
        op = "add" if before is _ABSENT else "replace"
        ops.append({"op": op, "path": value.path, "value": value.whole})
