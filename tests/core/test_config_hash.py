"""`configHash` depends on the effective settings, never on how the file spells them:
for every key, writing its default out gives the hash of leaving it out (the shipped
ConfigMap writes `mesh.caAddress`, and manifests injected offline without `--config`
must not show as outdated against it)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from injector.core import config, config_file, template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = "sidecar.yaml template text"


def _leaves(section: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Every key of the configuration with its default, as a dotted path."""
    found: list[tuple[str, Any]] = []
    for field in dataclasses.fields(section):
        value = getattr(section, field.name)
        path = f"{prefix}{field.name}"
        if dataclasses.is_dataclass(value) and not isinstance(value, config.Resources):
            found += _leaves(value, f"{path}.")
        else:
            found.append((path, config._plain(value)))
    return found


def _nest(path: str, value: Any) -> dict[str, Any]:
    data: dict[str, Any] = {}
    here = data
    *parents, last = path.split(".")
    for name in parents:
        here = here.setdefault(name, {})
    here[last] = value
    return data


def _hash(data: dict[str, Any]) -> str:
    return config_file.from_mapping(data).fingerprint(TEMPLATE)


# A key whose default stands for a derived value: written out, it is that value.
DERIVED = {"mesh.caAddress": "istiod.istio-system.svc:15012"}


@pytest.mark.parametrize(
    ("path", "default"), [pytest.param(p, v, id=p) for p, v in _leaves(config.Config())]
)
def test_writing_a_keys_default_leaves_the_hash_unchanged(path: str, default: Any) -> None:
    assert _hash(_nest(path, default)) == _hash({}), path
    if path in DERIVED:
        assert _hash(_nest(path, DERIVED[path])) == _hash({}), path


def test_the_derived_ca_address_follows_the_revision() -> None:
    canary = {"revision": "canary"}
    written = {**canary, "mesh": {"caAddress": "istiod-canary.istio-system.svc:15012"}}
    assert _hash(written) == _hash(canary)
    assert _hash(canary) != _hash({})


def test_the_shipped_configmap_hashes_as_the_defaults() -> None:
    """`inject` without --config and the deployed injector agree on configHash."""
    manifest = ROOT / "manifests" / "configmap.yaml"
    shipped = yaml.safe_load(yaml.safe_load(manifest.read_text())["data"]["config.yaml"])
    default = config.Config()
    text = template.load(default.templates).text
    assert config_file.from_mapping(shipped).fingerprint(text) == default.fingerprint(text)


def test_a_setting_that_changes_the_sidecar_changes_the_hash() -> None:
    assert _hash({"mesh": {"caAddress": "ca.example:15012"}}) != _hash({})
    assert _hash({"proxy": {"uid": 1338}}) != _hash({})
