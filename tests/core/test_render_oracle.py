"""The render plan against its oracle: every golden and bad-input corpus Pod, injected both
ways, gets the same answer and the same patch.

The engine injects from a render plan per settings and emits the patch from the fields it
sets (`render="plan"`, what it serves). The oracle renders the template for each Pod,
builds the injected Pod and diffs it (`render="diff"`, the design before plans). Both
must give the same operations, in the same order, and so the same Pod once applied.
The property test in test_properties.py does the same on generated Pods.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
import support
import yaml
from core.test_corpus import CASES

from injector.core import config, config_file, handler, policy, template
from injector.core.engine import Engine

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
INPUTS = sorted(p.name.removesuffix(".yaml") for p in GOLDEN.glob("*.yaml")
                if not p.name.endswith(".case.yaml"))  # fmt: skip


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _both(
    engines: dict[str, Engine], pod: dict[str, Any], ns: policy.Namespace | None, namespace: str
) -> dict[str, Any]:
    """Each engine's answer for the Pod, as the webhook gives it."""
    answers = {}
    for render, engine in engines.items():
        body = support.review(copy.deepcopy(pod), namespace=namespace)
        handled = handler.handle(body, engine=engine, namespaces=lambda _name: ns)
        answers[render] = handled
    return answers


def _same(answers: dict[str, Any], pod: dict[str, Any]) -> list[dict[str, Any]] | None:
    plan, diff = answers["plan"], answers["diff"]
    assert (plan.result, plan.reasons) == (diff.result, diff.reasons)
    planned, diffed = plan.answer["response"], diff.answer["response"]
    assert planned.get("warnings") == diffed.get("warnings")
    assert planned.get("status") == diffed.get("status")
    ops = support.patch_of(plan.answer)
    assert ops == support.patch_of(diff.answer)
    if ops is not None:
        assert support.apply(pod, plan.answer) == support.apply(pod, diff.answer)
    return ops


@pytest.mark.parametrize("name", INPUTS)
def test_a_golden_pod_gets_the_same_patch_from_the_plan_as_from_the_diff(
    name: str, default_template: template.Template
) -> None:
    case = name.removesuffix(".in").removesuffix(".out")
    options_file = GOLDEN / f"{case}.case.yaml"
    options = _load(options_file) if options_file.exists() else {}
    settings = config_file.from_mapping(options.get("config") or {})
    engines = {
        render: Engine(settings, default_template, render=render) for render in ("plan", "diff")
    }
    ns = None
    if "namespaceLabels" in options or "namespaceAnnotations" in options:
        ns = policy.Namespace(
            options.get("namespace", "shop"),
            options.get("namespaceLabels") or {},
            options.get("namespaceAnnotations") or {},
        )
    pod = _load(GOLDEN / f"{name}.yaml")
    ops = _same(_both(engines, pod, ns, options.get("namespace", "shop")), pod)
    if name.endswith(".in") and "skip-" not in name:
        # The check itself can fail: an input of an injected golden gets a patch.
        injected = _load(GOLDEN / f"{case}.out.yaml")
        assert (ops is None) == (injected == pod)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_corpus_pod_gets_the_same_answer_from_the_plan_as_from_the_diff(
    name: str, pod: dict[str, Any], default_template: template.Template
) -> None:
    case = CASES[name]
    case.mangle(pod)
    ns = None if case.ns_labels is None else policy.Namespace("shop", case.ns_labels)
    engines = {
        render: Engine(config.Config(), default_template, render=render)
        for render in ("plan", "diff")
    }
    answers = _both(engines, pod, ns, "shop")
    assert answers["plan"].result == case.result
    _same(answers, pod)


def test_a_plan_is_rendered_once_for_the_pods_of_one_workload(
    default_template: template.Template, pod: dict[str, Any]
) -> None:
    engine = Engine(config.Config(), default_template)
    for nonce in range(3):
        other = copy.deepcopy(pod)
        other["metadata"]["labels"]["nonce"] = str(nonce)
        engine.inject(other, namespace="shop", ns=None)
    assert len(engine._plans) == 1
    annotated = copy.deepcopy(pod)
    annotated["metadata"]["annotations"] = {"sidecar.istio.io/proxyCPU": "200m"}
    engine.inject(annotated, namespace="shop", ns=None)
    assert len(engine._plans) == 2


def _plans(engine: Engine) -> list[Any]:
    found = (engine._plans.get(key) for key in engine._plans)
    return [entry[0] for entry in found if entry is not None]


def _injected_both_ways(
    settings: config.Config, sidecar: template.Template, pod: dict[str, Any]
) -> tuple[Engine, list[dict[str, Any]]]:
    """The engine that serves, after injecting the Pod, and the patch both ways gave."""
    engines = {render: Engine(settings, sidecar, render=render) for render in ("plan", "diff")}
    ops = _same(_both(engines, pod, None, "shop"), pod)
    assert ops is not None
    return engines["plan"], ops


def test_a_template_with_a_pod_value_outside_the_proxy_env_is_rendered_per_pod(
    tmp_path: Path, pod: dict[str, Any]
) -> None:
    for source in config.DEFAULT_TEMPLATES.glob("*.yaml"):
        (tmp_path / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    sidecar = tmp_path / template.SIDECAR_FILE
    text = sidecar.read_text(encoding="utf-8")
    assert "    - proxy\n    - sidecar\n" in text
    text = text.replace(
        "    - proxy\n    - sidecar\n",
        "    - proxy\n    - sidecar\n    - --apps=${pod.appContainers}\n",
    )
    sidecar.write_text(text, encoding="utf-8")
    engine, ops = _injected_both_ways(config.Config(), template.load(tmp_path), pod)
    assert _plans(engine) == [None], "no plan: the Pod's value is in an argument"
    proxies = [op["value"] for op in ops if op["path"] == "/spec/containers/-"]
    app = ",".join(c["name"] for c in pod["spec"]["containers"])
    assert f"--apps={app}" in proxies[0]["args"]


def test_settings_that_hold_a_marker_character_get_no_plan(
    default_template: template.Template, pod: dict[str, Any]
) -> None:
    settings = config_file.from_mapping({"mesh": {"clusterId": "a\x00b"}})
    engine, ops = _injected_both_ways(settings, default_template, pod)
    assert _plans(engine) == [None]
    assert b"a\\u0000b" in orjson.dumps(ops), "the cluster id as configured"


def test_the_default_settings_get_a_plan(
    default_template: template.Template, pod: dict[str, Any]
) -> None:
    engine, _ops = _injected_both_ways(config.Config(), default_template, pod)
    assert [type(plan).__name__ for plan in _plans(engine)] == ["Plan"]
