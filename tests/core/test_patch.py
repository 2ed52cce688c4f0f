"""The patch from a Pod to its edited copy: applied to the original it gives the copy,
with the cheapest operations that stay correct."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import pytest

from injector.core import patch

APP = {"name": "app", "image": "a"}
SIDE = {"name": "istio-proxy", "image": "p"}
LABELS = {"app": "b", "a/b~c": "x"}


def _pod(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "labels": {"app": "a"}},
        "spec": {"containers": [APP], **spec},
    }


def _edited(pod: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {**pod, "spec": {**pod["spec"], **spec}}


@pytest.mark.parametrize(
    ("original", "mutated", "kinds"),
    [
        pytest.param(_pod(), _edited(_pod(), containers=[APP, SIDE]), {"add"}, id="appended"),
        pytest.param(_pod(), _edited(_pod(), containers=[SIDE, APP]), {"replace"},
                     id="moved-first"),
        pytest.param(_pod(), _edited(_pod(), containers=[{**APP, "image": "b"}, SIDE]),
                     {"replace", "add"}, id="existing-item-changed"),
        pytest.param(_pod(), _edited(_pod(), containers=[{**APP, "name": "b"}]),
                     {"replace"}, id="existing-item-renamed"),
        pytest.param(_pod(), _edited(_pod(), volumes=[{"name": "v"}]), {"add"}, id="new-field"),
        pytest.param(_pod(volumes=None), _edited(_pod(), volumes=[{"name": "v"}]), {"replace"},
                     id="null-field-filled"),
        pytest.param(_pod(), {**_pod(), "metadata": {"name": "p", "labels": LABELS}},
                     {"add", "replace"}, id="labels-per-key-escaped"),
        pytest.param({"spec": {"containers": [APP]}}, {"metadata": {"annotations": {"k": "v"}},
                     "spec": {"containers": [APP]}}, {"add"}, id="metadata-missing"),
        pytest.param(_pod(), {**_pod(), "metadata": {"name": "p"}}, {"remove"}, id="map-removed"),
    ],
)  # fmt: skip
def test_the_patch_turns_the_original_into_the_copy(
    original: dict[str, Any], mutated: dict[str, Any], kinds: set[str]
) -> None:
    before = copy.deepcopy(original)
    ops = patch.diff(original, mutated)
    assert original == before
    assert jsonpatch.apply_patch(original, ops) == mutated
    assert {op["op"] for op in ops} == kinds


def test_keys_are_escaped_per_json_pointer() -> None:
    ops = patch.diff(
        _pod(), {**_pod(), "metadata": {"name": "p", "labels": {"app": "a", "a/b~c": "x"}}}
    )
    assert [op["path"] for op in ops] == ["/metadata/labels/a~1b~0c"]


def test_managed_fields_are_never_touched() -> None:
    original = {**_pod(), "metadata": {"name": "p", "managedFields": [{"manager": "kubectl"}]}}
    mutated = {**original, "metadata": {"name": "p", "managedFields": []}}
    assert patch.diff(original, mutated) == []


def test_an_unchanged_copy_gives_no_operations() -> None:
    pod = _pod(volumes=[{"name": "v"}])
    assert patch.diff(pod, copy.deepcopy(pod)) == []


def test_a_changed_container_is_patched_by_field_not_as_a_whole_list() -> None:
    pod = _pod()
    probe = {"httpGet": {"path": "/app-health/app/readyz", "port": 15020}}
    ops = patch.diff(pod, _edited(pod, containers=[{**APP, "readinessProbe": probe}, SIDE]))
    assert [(op["op"], op["path"]) for op in ops] == [
        ("add", "/spec/containers/0/readinessProbe"), ("add", "/spec/containers/-")
    ]  # fmt: skip
