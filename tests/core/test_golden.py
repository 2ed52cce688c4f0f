"""Golden files: each `golden/<case>.in.yaml` Pod, injected, must equal `<case>.out.yaml`.

Every case goes through the webhook path (AdmissionReview in, patch out, patch applied)
and through the offline `inject` path, and both must give the golden Pod. The result is
validated against the official Pod schema, and fed back in to prove idempotency. Over
the version matrix (1.25 to the newest schema kubernetes-validate ships), a golden Pod
is valid on every version its input is valid on: injection never needs a newer
cluster, except a native sidecar, which needs 1.29.
An optional `<case>.case.yaml` sets `config` (configuration data), `namespace`,
`namespaceLabels` and `namespaceAnnotations` (a known namespace) for the case.

Refresh with `UPDATE_GOLDEN=1 make test`; a golden file without an input fails.
"""

from __future__ import annotations

import copy
import difflib
import os
from pathlib import Path
from typing import Any

import pytest
import support
import yaml
from support import kube_versions

from injector.core import config_file, handler, policy, workloads
from injector.core.engine import Engine
from injector.core.template import Template

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
CASES = sorted(p.name.removesuffix(".in.yaml") for p in GOLDEN.glob("*.in.yaml"))


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _dump(pod: dict[str, Any]) -> str:
    return yaml.safe_dump(pod, sort_keys=False, width=100)


def _case(name: str, default_template: Template) -> tuple[Engine, dict[str, Any]]:
    options_file = GOLDEN / f"{name}.case.yaml"
    options = _load(options_file) if options_file.exists() else {}
    engine = Engine(config_file.from_mapping(options.get("config") or {}), default_template)
    return engine, options


def _namespace(options: dict[str, Any]) -> policy.Namespace | None:
    if "namespaceLabels" not in options and "namespaceAnnotations" not in options:
        return None
    return policy.Namespace(
        options.get("namespace", "shop"),
        options.get("namespaceLabels") or {},
        options.get("namespaceAnnotations") or {},
    )


def _webhook(engine: Engine, pod: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    ns = _namespace(options)
    body = support.review(copy.deepcopy(pod), namespace=options.get("namespace", "shop"))
    handled = handler.handle(body, engine=engine, namespaces=lambda _name: ns)
    assert handled.answer["response"]["allowed"] is True, handled.answer
    return support.apply(pod, handled.answer)


def _offline(engine: Engine, pod: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    ns = _namespace(options)
    document = {**copy.deepcopy(pod), "metadata": {**pod.get("metadata", {})}}
    document["metadata"]["namespace"] = options.get("namespace", "shop")
    text, _reports = workloads.inject_text(
        _dump(document), engine, ns_labels=None if ns is None else dict(ns.labels)
    )
    result = yaml.safe_load(text)
    del result["metadata"]["namespace"]
    return dict(result)


@pytest.mark.parametrize("name", CASES)
def test_golden_case_injects_to_its_golden_pod(name: str, default_template: Template) -> None:
    engine, options = _case(name, default_template)
    pod = _load(GOLDEN / f"{name}.in.yaml")
    injected = _webhook(engine, pod, options)
    expected_file = GOLDEN / f"{name}.out.yaml"
    if UPDATE:
        expected_file.write_text(_dump(injected), encoding="utf-8")
    expected = _load(expected_file)
    if injected != expected:
        diff = difflib.unified_diff(
            _dump(expected).splitlines(), _dump(injected).splitlines(), lineterm=""
        )
        pytest.fail(f"{name}: webhook result differs from golden:\n" + "\n".join(diff))
    support.validate_pod(injected)


@pytest.mark.parametrize("name", CASES)
def test_golden_case_is_idempotent(name: str, default_template: Template) -> None:
    engine, options = _case(name, default_template)
    injected = _load(GOLDEN / f"{name}.out.yaml")
    ns = _namespace(options)
    body = support.review(injected, namespace=options.get("namespace", "shop"))
    handled = handler.handle(body, engine=engine, namespaces=lambda _name: ns)
    assert handled.answer["response"]["allowed"] is True
    assert support.patch_of(handled.answer) is None


def _injected_cases() -> list[str]:
    return [
        name
        for name in CASES
        if policy.names.STATUS
        in (_load(GOLDEN / f"{name}.out.yaml")["metadata"].get("annotations") or {})
        and not name.startswith("skip-")
    ]


@pytest.mark.parametrize("name", _injected_cases())
def test_an_injected_golden_pod_reinvoked_through_the_webhook_gets_no_warning(
    name: str, default_template: Template
) -> None:
    """kube-apiserver calls again with the injected Pod (reinvocationPolicy: IfNeeded):
    our own containers must not count as the app's, so no warning and no patch."""
    engine, options = _case(name, default_template)
    injected = _load(GOLDEN / f"{name}.out.yaml")
    ns = _namespace(options)
    body = support.review(injected, namespace=options.get("namespace", "shop"))
    handled = handler.handle(body, engine=engine, namespaces=lambda _name: ns)
    response = handled.answer["response"]
    assert response.get("warnings", []) == []
    assert support.patch_of(handled.answer) is None
    assert handled.reasons == (policy.ALREADY_INJECTED,)


@pytest.mark.parametrize("name", _injected_cases())
def test_inject_on_its_own_output_reports_a_plain_skip(
    name: str, default_template: Template
) -> None:
    engine, options = _case(name, default_template)
    injected = _load(GOLDEN / f"{name}.out.yaml")
    ns = _namespace(options)
    text, reports = workloads.inject_text(
        _dump(injected),
        engine,
        ns_labels=None if ns is None else dict(ns.labels),
        namespace=options.get("namespace", "shop"),
    )
    assert yaml.safe_load(text) == injected
    assert [(r.result, r.detail) for r in reports] == [
        ("skipped", f"{policy.ALREADY_INJECTED}: {policy.SENTENCES[policy.ALREADY_INJECTED]}")
    ]


def _offline_cases() -> list[str]:
    """Namespace annotations come from a cluster; offline knows namespace labels only."""
    return [
        name
        for name in CASES
        if not (GOLDEN / f"{name}.case.yaml").exists()
        or "namespaceAnnotations" not in _load(GOLDEN / f"{name}.case.yaml")
    ]


@pytest.mark.parametrize("name", _offline_cases())
def test_offline_inject_gives_the_same_pod_as_the_webhook(
    name: str, default_template: Template
) -> None:
    engine, options = _case(name, default_template)
    pod = _load(GOLDEN / f"{name}.in.yaml")
    assert _offline(engine, pod, options) == _load(GOLDEN / f"{name}.out.yaml")


def test_every_golden_file_has_an_input() -> None:
    stale = [
        p.name
        for p in GOLDEN.glob("*.yaml")
        if not p.name.endswith(".in.yaml")
        and not (GOLDEN / (p.name.rsplit(".", 2)[0] + ".in.yaml")).exists()
    ]
    assert not stale, f"stale golden files: {stale}"


def test_every_input_has_a_golden_output() -> None:
    missing = [c for c in CASES if not (GOLDEN / f"{c}.out.yaml").exists()]
    assert not missing, f"run UPDATE_GOLDEN=1 to create: {missing}"
    assert len(CASES) >= 15


# ---- The version matrix ------------------------------------------------------------------

# The cases whose golden Pod has a native sidecar (restartPolicy on an init container).
NATIVE_CASES = {
    "declared-proxy-native",
    "native-sidecar-annotation",
    "native-sidecar-config",
    "probes-reinvocation-native",
    "probes-rewritten",
    "proxy-config-hold-native",
}
NATIVE_SINCE = (1, 29)
# The cases whose input itself needs a newer version than 1.25, and that version.
NEWER_INPUTS = {
    "newer-pod-fields": (1, 31),
    # An app's own native sidecar, or a Pod already injected with one.
    "probes-reinvocation-native": (1, 29),
    "probes-rewritten": (1, 29),
}


def _pod(path: Path) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", **_load(path)}


def _versions(pod: dict[str, Any]) -> list[kube_versions.Version]:
    return [v for v in kube_versions.supported() if kube_versions.valid_on(pod, v)]


@pytest.mark.parametrize("name", CASES)
def test_an_input_is_valid_from_the_oldest_version_unless_listed(name: str) -> None:
    """So that the next test is not empty: its inputs run on 1.25 to the newest."""
    floor = NEWER_INPUTS.get(name, kube_versions.OLDEST)
    expected = [v for v in kube_versions.supported() if v >= floor]
    assert _versions(_pod(GOLDEN / f"{name}.in.yaml")) == expected


@pytest.mark.parametrize("name", CASES)
def test_a_golden_pod_is_valid_on_every_version_its_input_is(name: str) -> None:
    floor = NATIVE_SINCE if name in NATIVE_CASES else kube_versions.OLDEST
    inputs = _versions(_pod(GOLDEN / f"{name}.in.yaml"))
    output = _pod(GOLDEN / f"{name}.out.yaml")
    failures = {
        kube_versions.show(v): kube_versions.problems(output, v) for v in inputs if v >= floor
    }
    assert {version: found for version, found in failures.items() if found} == {}


@pytest.mark.parametrize(
    "version",
    [
        pytest.param(kube_versions.OLDEST, id="oldest"),
        pytest.param((1, 28), id="1.28"),
        pytest.param(kube_versions.newest(), id="newest"),
    ],
)
@pytest.mark.parametrize("name", [c for c in CASES if c not in NEWER_INPUTS])
def test_a_golden_pod_is_valid_on_the_oldest_1_28_and_the_newest_version(
    name: str, version: kube_versions.Version
) -> None:
    output = _pod(GOLDEN / f"{name}.out.yaml")
    found = kube_versions.problems(output, version)
    if name in NATIVE_CASES and version < NATIVE_SINCE:
        assert found, "a native sidecar cannot run on this version"
        assert any("restartPolicy" in problem for problem in found)
    else:
        assert found == []


def test_the_native_cases_are_exactly_the_golden_pods_with_a_native_sidecar() -> None:
    def native(name: str) -> bool:
        init = _load(GOLDEN / f"{name}.out.yaml")["spec"].get("initContainers") or []
        return any("restartPolicy" in container for container in init)

    assert {name for name in CASES if native(name)} == NATIVE_CASES


@pytest.mark.parametrize("name", sorted(NATIVE_CASES))
def test_a_native_golden_pod_is_valid_from_1_29_and_fails_on_1_28(name: str) -> None:
    output = _pod(GOLDEN / f"{name}.out.yaml")
    assert _versions(output)[0] == NATIVE_SINCE
    (problem,) = kube_versions.problems(output, (1, 28))
    assert "SidecarContainers" in problem, "1.28 has the field, with its gate off"
