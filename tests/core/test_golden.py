"""Golden files: each `golden/<case>.in.yaml` Pod, injected, must equal `<case>.out.yaml`.

Every case goes through the webhook path (AdmissionReview in, patch out, patch applied)
and through the offline `inject` path, and both must give the golden Pod. The result is
validated against the official Pod schema, and fed back in to prove idempotency.
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
