"""The manifests over the Kubernetes version matrix: base, overlays and components.

Every directory under manifests/overlays/ and manifests/components/ that holds a
kustomization.yaml is found here, so new ones are tested without editing this file. Each
declares the versions it supports with a comment line in its kustomization.yaml,
`# kubernetes: 1.28+`; without one it promises what the base promises, 1.25+.

Each combination (the base or an overlay, with any set of the components) is built with
`kubectl kustomize` and every built-in object is validated, strictly and with the
feature gates' defaults (tests/support/kube_versions.py), on every version from the
highest floor among its parts to the newest. A component's floor must be exact: it must
fail on the version just below. Custom resources (e.g. cert-manager's) have no official
schema and are left to their overlay's own tests.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest
from support import kube_versions
from support.kube_versions import Version
from support.kustomize import MANIFESTS, build, built_kind

DECLARATION = re.compile(r"^# kubernetes: (\d+\.\d+)\+\s*$", re.MULTILINE)
# Every subset of the components while there are at most this many; beyond, each one
# alone and all together (2**n builds would grow too slow).
ALL_SUBSETS_UP_TO = 4


def _kustomizations(folder: str) -> list[Path]:
    parent = MANIFESTS / folder
    return sorted(p.parent for p in parent.glob("*/kustomization.yaml"))


OVERLAYS = _kustomizations("overlays")
COMPONENTS = _kustomizations("components")


def _floor(directory: Path) -> Version:
    """The oldest version a directory declares it supports (default: the base's)."""
    text = (directory / "kustomization.yaml").read_text(encoding="utf-8")
    declared = DECLARATION.findall(text)
    assert len(declared) <= 1, f"{directory}: more than one `# kubernetes:` line"
    return kube_versions.parse(declared[0]) if declared else kube_versions.OLDEST


def _name(directory: Path) -> str:
    return directory.relative_to(MANIFESTS).as_posix() if directory != MANIFESTS else "base"


def _component_sets() -> list[tuple[Path, ...]]:
    if len(COMPONENTS) <= ALL_SUBSETS_UP_TO:
        sizes = range(len(COMPONENTS) + 1)
        return [s for n in sizes for s in itertools.combinations(COMPONENTS, n)]
    return [(), *((c,) for c in COMPONENTS), tuple(COMPONENTS)]


Combination = tuple[Path, tuple[Path, ...]]
COMBINATIONS: list[Combination] = [
    (target, components) for target in [MANIFESTS, *OVERLAYS] for components in _component_sets()
]


def _combination_id(combination: Combination) -> str:
    target, components = combination
    return "+".join([_name(target), *(_name(c).removeprefix("components/") for c in components)])


def _floor_of(combination: Combination) -> Version:
    target, components = combination
    return max([_floor(target), *(_floor(c) for c in components)])


def matrix_problems(objects: tuple[dict[str, Any], ...], version: Version) -> list[str]:
    return [
        problem
        for obj in objects
        if kube_versions.is_builtin(obj)
        for problem in kube_versions.problems(obj, version)
    ]


# ---- The matrix itself ---------------------------------------------------------------


def test_the_schemas_of_the_whole_range_are_shipped() -> None:
    """kubernetes-validate keeps a window of versions: the pin must still reach 1.25."""
    versions = kube_versions.supported()
    assert versions[0] == kube_versions.OLDEST
    assert {(1, 25), (1, 26), (1, 27), (1, 28), (1, 29), (1, 30)} <= set(versions)
    assert versions == [(1, minor) for minor in range(25, versions[-1][1] + 1)], "a gap"


def test_the_matrix_finds_the_shipped_components() -> None:
    assert {"match-conditions", "unhealthy-pod-eviction"} <= {c.name for c in COMPONENTS}


@pytest.mark.parametrize(
    "combination", [pytest.param(c, id=_combination_id(c)) for c in COMBINATIONS]
)
def test_a_combination_is_valid_on_every_version_it_claims(combination: Combination) -> None:
    objects = build(*combination)
    floor = _floor_of(combination)
    failures = {
        kube_versions.show(version): problems
        for version in kube_versions.supported()
        if version >= floor and (problems := matrix_problems(objects, version))
    }
    assert failures == {}


@pytest.mark.parametrize(
    "component",
    [pytest.param(c, id=c.name) for c in COMPONENTS if _floor(c) > kube_versions.OLDEST],
)
def test_a_component_is_invalid_just_below_its_declared_floor(component: Path) -> None:
    """So a declaration cannot claim less than the component really needs either."""
    below = max(v for v in kube_versions.supported() if v < _floor(component))
    assert matrix_problems(build(MANIFESTS, (component,)), below), kube_versions.show(below)


@pytest.mark.parametrize(
    "version", [pytest.param(v, id=kube_versions.show(v)) for v in kube_versions.supported()]
)
def test_the_base_is_valid_on_every_supported_version(version: Version) -> None:
    assert _floor(MANIFESTS) == kube_versions.OLDEST
    assert matrix_problems(build(MANIFESTS), version) == []


# ---- The checks can fail --------------------------------------------------------------


def _with(kind: str, change: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """The built base with `change` deep-merged into its object of `kind`."""
    objects = list(build(MANIFESTS))

    def merge(into: dict[str, Any], extra: dict[str, Any]) -> None:
        for key, value in extra.items():
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                merge(into[key], value)
            elif isinstance(value, list) and isinstance(into.get(key), list):
                for target, item in zip(into[key], value, strict=False):
                    merge(target, item)
            else:
                into[key] = value

    merge(built_kind(tuple(objects), kind), change)
    return tuple(objects)


SLEEP = {"lifecycle": {"preStop": {"sleep": {"seconds": 10}}}}
CONDITION = {"matchConditions": [{"name": "x", "expression": "true"}]}
NEWER_FIELDS = {
    "pre-stop-sleep": ("Deployment", {"spec": {"template": {"spec": {"containers": [SLEEP]}}}}),
    "unhealthy-pod-eviction-policy": (
        "PodDisruptionBudget",
        {"spec": {"unhealthyPodEvictionPolicy": "AlwaysAllow"}},
    ),
    "match-conditions": ("MutatingWebhookConfiguration", {"webhooks": [CONDITION]}),
}


@pytest.mark.parametrize(
    ("field", "version", "valid"),
    [
        pytest.param("pre-stop-sleep", (1, 25), False, id="sleep-on-1.25-unknown"),
        pytest.param("pre-stop-sleep", (1, 29), False, id="sleep-on-1.29-gate-off"),
        pytest.param("pre-stop-sleep", (1, 30), True, id="sleep-on-1.30"),
        pytest.param("unhealthy-pod-eviction-policy", (1, 25), False, id="pdb-on-1.25-unknown"),
        pytest.param("unhealthy-pod-eviction-policy", (1, 26), False, id="pdb-on-1.26-gate-off"),
        pytest.param("unhealthy-pod-eviction-policy", (1, 27), True, id="pdb-on-1.27"),
        pytest.param("match-conditions", (1, 26), False, id="conditions-on-1.26-unknown"),
        pytest.param("match-conditions", (1, 27), False, id="conditions-on-1.27-gate-off"),
        pytest.param("match-conditions", (1, 28), True, id="conditions-on-1.28"),
    ],
)
def test_a_newer_field_put_back_into_the_base_fails_where_it_is_not_served(
    field: str, version: Version, valid: bool
) -> None:
    kind, change = NEWER_FIELDS[field]
    assert matrix_problems(build(MANIFESTS), version) == []
    assert (matrix_problems(_with(kind, change), version) == []) is valid


def test_an_undeclared_component_promises_the_base_range(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("kind: Component\n")
    assert _floor(tmp_path) == kube_versions.OLDEST
    (tmp_path / "kustomization.yaml").write_text("# kubernetes: 1.30+\nkind: Component\n")
    assert _floor(tmp_path) == (1, 30)


# ---- What the components add ------------------------------------------------------------


def _webhooks(objects: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    hooks: list[dict[str, Any]] = built_kind(objects, "MutatingWebhookConfiguration")["webhooks"]
    return hooks


def test_the_base_sends_every_pod_of_its_selectors_without_match_conditions() -> None:
    assert all("matchConditions" not in hook for hook in _webhooks(build(MANIFESTS)))


def test_the_match_conditions_component_adds_the_conditions_to_both_webhooks_only() -> None:
    base = build(MANIFESTS)
    added = build(MANIFESTS, (MANIFESTS / "components" / "match-conditions",))
    not_host_network = "!has(object.spec.hostNetwork) || object.spec.hostNetwork != true"
    not_mirror_pod = (
        "!has(object.metadata.annotations)"
        " || !('kubernetes.io/config.mirror' in object.metadata.annotations)"
    )
    before, after = _webhooks(base), _webhooks(added)
    assert [h["name"] for h in after] == [h["name"] for h in before]
    for old, new in zip(before, after, strict=True):
        conditions = new.pop("matchConditions")
        assert len({c["name"] for c in conditions}) == len(conditions), "duplicate names"
        assert {c["expression"] for c in conditions} == {not_host_network, not_mirror_pod}
        assert new == old, "the component changed something else"


def test_the_eviction_component_changes_only_the_disruption_budgets_policy() -> None:
    base = build(MANIFESTS)
    added = build(MANIFESTS, (MANIFESTS / "components" / "unhealthy-pod-eviction",))
    changed = [(old, new) for old, new in zip(base, added, strict=True) if old != new]
    ((old, new),) = changed
    assert new["kind"] == "PodDisruptionBudget"
    assert new["spec"].pop("unhealthyPodEvictionPolicy") == "AlwaysAllow"
    assert new == old
