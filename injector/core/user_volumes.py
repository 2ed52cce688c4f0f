"""`sidecar.istio.io/userVolume` and `userVolumeMount`: extra volumes for the proxy, as JSON.

Each annotation is a JSON object from a volume name to the rest of a Kubernetes Volume
(or VolumeMount). Only fields Kubernetes knows are accepted, each with its type, so an
annotation can add a volume to the proxy and nothing else: an unknown field, a wrong type
or a second volume source is refused with a message naming the annotation and the field.
Entries come out sorted by name, as Istio 1.20.8 renders them (a Go map ranged in a
template is sorted by key).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from injector.core import grammar

# A field's type: a Python type, a nested mapping of fields, or a one-item list of a type.
Shape = Any

_KEY_TO_PATH: Shape = {"key": str, "path": str, "mode": int}
_OBJECT_FIELD: Shape = {"apiVersion": str, "fieldPath": str}
_RESOURCE_FIELD: Shape = {"containerName": str, "resource": str, "divisor": str}
_DOWNWARD_ITEM: Shape = {
    "path": str, "fieldRef": _OBJECT_FIELD, "resourceFieldRef": _RESOURCE_FIELD, "mode": int,
}  # fmt: skip
_PROJECTION: Shape = {
    "configMap": {"name": str, "items": [_KEY_TO_PATH], "optional": bool},
    "secret": {"name": str, "items": [_KEY_TO_PATH], "optional": bool},
    "downwardAPI": {"items": [_DOWNWARD_ITEM]},
    "serviceAccountToken": {"audience": str, "expirationSeconds": int, "path": str},
}
# The volume sources a proxy has a use for; others are refused by name.
SOURCES: Mapping[str, Shape] = {
    "emptyDir": {"medium": str, "sizeLimit": str},
    "configMap": {"name": str, "items": [_KEY_TO_PATH], "defaultMode": int, "optional": bool},
    "secret": {"secretName": str, "items": [_KEY_TO_PATH], "defaultMode": int, "optional": bool},
    "persistentVolumeClaim": {"claimName": str, "readOnly": bool},
    "hostPath": {"path": str, "type": str},
    "downwardAPI": {"items": [_DOWNWARD_ITEM], "defaultMode": int},
    "projected": {"sources": [_PROJECTION], "defaultMode": int},
    "csi": {
        "driver": str, "readOnly": bool, "fsType": str,
        "volumeAttributes": {str: str}, "nodePublishSecretRef": {"name": str},
    },
    "nfs": {"server": str, "path": str, "readOnly": bool},
}  # fmt: skip
MOUNT: Shape = {
    "mountPath": str, "subPath": str, "subPathExpr": str, "readOnly": bool,
    "mountPropagation": str, "recursiveReadOnly": str,
}  # fmt: skip

_TYPE_NAMES = {str: "a string", int: "a whole number", bool: "true or false"}


class Invalid(ValueError):
    """The annotation's value is not what Kubernetes accepts; the message says where."""


def _check(value: Any, shape: Shape, where: str) -> None:
    if isinstance(shape, type):
        # bool is an int in Python; JSON true is never a number here.
        if not isinstance(value, shape) or (shape is int and isinstance(value, bool)):
            raise Invalid(f"{where} must be {_TYPE_NAMES[shape]}")
        return
    if isinstance(shape, list):
        if not isinstance(value, list):
            raise Invalid(f"{where} must be a list")
        for index, item in enumerate(value):
            _check(item, shape[0], f"{where}[{index}]")
        return
    if not isinstance(value, dict):
        raise Invalid(f"{where} must be an object")
    if str in shape:  # a free-form string map
        for key, item in value.items():
            _check(item, shape[str], f"{where}.{key}")
        return
    for key, item in value.items():
        if key not in shape:
            raise Invalid(f"{where}.{key} is not a field Kubernetes knows here")
        _check(item, shape[key], f"{where}.{key}")


def _entries(text: str, key: str) -> list[tuple[str, dict[str, Any]]]:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise Invalid(f"annotation {key} is not JSON") from None
    if not isinstance(data, dict):
        raise Invalid(f"annotation {key} must be a JSON object of name -> definition")
    entries = []
    for name in sorted(data):
        try:
            grammar.parse_object_name(name)
        except grammar.GrammarError as err:
            raise Invalid(f"annotation {key}: name {grammar.printable(name)}: {err}") from None
        if not isinstance(data[name], dict) or "name" in data[name]:
            raise Invalid(f"annotation {key}: {name} must be an object without its own name")
        entries.append((name, data[name]))
    return entries


def volumes(text: str, key: str) -> list[dict[str, Any]]:
    """The Volumes `text` defines, sorted by name; raise `Invalid`."""
    found = []
    for name, body in _entries(text, key):
        sources = [field for field in body if field in SOURCES]
        unknown = sorted(set(body) - set(SOURCES))
        if unknown:
            raise Invalid(
                f"annotation {key}: {name}.{unknown[0]} is not a supported volume source"
                f" (one of {', '.join(SOURCES)})"
            )
        if len(sources) != 1:
            raise Invalid(f"annotation {key}: {name} must have exactly one volume source")
        _check(body, {sources[0]: SOURCES[sources[0]]}, f"annotation {key}: {name}")
        found.append({"name": name, **body})
    return found


def mounts(text: str, key: str) -> list[dict[str, Any]]:
    """The VolumeMounts `text` defines, sorted by name; raise `Invalid`."""
    found = []
    for name, body in _entries(text, key):
        _check(body, MOUNT, f"annotation {key}: {name}")
        if not isinstance(body.get("mountPath"), str) or not body["mountPath"].startswith("/"):
            raise Invalid(f"annotation {key}: {name}.mountPath must be an absolute path")
        found.append({"name": name, **body})
    return found
