"""Property-based tests: for any Pod, the answer is well-formed, the patch applies
strictly, the result is a valid Pod that kept everything the original had, and
re-injecting the result changes nothing; and the render plan gives the patch its oracle
(the injected Pod diffed) gives.

`make test` runs the `ci` profile (a few hundred examples per property). The long run is
`HYPOTHESIS_PROFILE=long .venv/bin/pytest tests/core/test_properties.py`.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import jsonpatch
import pytest
import support
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from injector.core import config, handler, names, policy, template
from injector.core.engine import Engine

settings.register_profile(
    "ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "long", max_examples=20_000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

DNS_LABEL = st.from_regex(r"[a-z]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
ANY_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)
KEY = st.one_of(ANY_TEXT, st.sampled_from(["a/b", "x~y", "~1", "/", "~", "a~1b/c~0"]))
SWITCH = st.sampled_from(
    ["true", "false", "True", "FALSE", "1", "0", "t", "f", "yes", " true", "tRuE", ""]
)
QUANTITY = st.sampled_from(
    ["100m", "1", "0.5", "128Mi", "2Gi", "3", "NaN", "1_000", "１２", "100m\n", "-1", "1e3"]
)
PORTS = st.sampled_from(["", "80", "80,443", "*", "abc", "70000", "80;443", "8080, 9090"])
CIDRS = st.sampled_from(["", "*", "10.0.0.0/8", "10.0.0.0/33", "fd00::/8", "1.2.3.4"])
PROXY_CONFIGS = st.sampled_from(
    ["concurrency: 2", "holdApplicationUntilProxyStarts: true", "proxyMetadata: {A: b}", "x: 1"]
)
OUR_ANNOTATIONS = st.dictionaries(
    st.sampled_from(
        [
            names.PROXY_CPU,
            names.PROXY_MEMORY,
            names.PROXY_CPU_LIMIT,
            names.PROXY_MEMORY_LIMIT,
            names.INCLUDE_INBOUND_PORTS,
            names.EXCLUDE_INBOUND_PORTS,
            names.EXCLUDE_OUTBOUND_PORTS,
            names.INCLUDE_OUTBOUND_IP_RANGES,
            names.EXCLUDE_OUTBOUND_IP_RANGES,
            names.NATIVE_SIDECAR,
            names.INJECT,
            names.REWRITE_PROBES,
            names.PROXY_CONFIG,
        ]
    ),
    st.one_of(QUANTITY, PORTS, CIDRS, SWITCH, PROXY_CONFIGS),
    max_size=4,
)


PROBE_KINDS = ("readinessProbe", "livenessProbe", "startupProbe")
PROBES = st.sampled_from(
    [
        {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 3},
        {"httpGet": {"port": "http", "scheme": "HTTPS"}},
        {"tcpSocket": {"port": 5432}},
        {"grpc": {"port": 9090}},
        {"exec": {"command": ["true"]}},
    ]
)


def _env(index: int) -> dict[str, str]:
    return {"name": f"VAR_{index}", "value": str(index)}


@st.composite
def containers(draw: st.DrawFn, names_: list[str], *, init: bool = False) -> list[Any]:
    result = []
    for name in names_:
        container: dict[str, Any] = {"name": name, "image": draw(DNS_LABEL)}
        if draw(st.booleans()):
            ports = draw(st.sets(st.integers(1, 65535), max_size=3))
            container["ports"] = [{"containerPort": p} for p in sorted(ports)]
        if draw(st.booleans()):
            container["env"] = [_env(i) for i in range(draw(st.integers(0, 300)))]
        if draw(st.booleans()):
            cpu, memory = draw(st.sampled_from(["250m", "1"])), draw(st.sampled_from(["64Mi"]))
            limits = {"cpu": cpu, "memory": memory}
            requests = limits if draw(st.booleans()) else {"cpu": "10m"}
            container["resources"] = {"limits": limits, "requests": requests}
        if init and draw(st.booleans()):
            container["restartPolicy"] = "Always"  # an existing native sidecar
        if _rarely(draw) or _rarely(draw):
            container[draw(st.sampled_from(PROBE_KINDS))] = draw(PROBES)
        result.append(container)
    return result


def _rarely(draw: st.DrawFn) -> bool:
    """One draw in ten: keeps edge cases present without drowning the common ones."""
    # Hypothesis favours the ends of a range, so the rare value sits in the middle.
    return draw(st.sampled_from([False] * 5 + [True] + [False] * 4))


@st.composite
def pods(draw: st.DrawFn) -> dict[str, Any]:
    all_names = draw(st.lists(DNS_LABEL, min_size=1, max_size=6, unique=True))
    if _rarely(draw):
        all_names[-1] = draw(st.sampled_from(["istio-proxy", "istio-init"]))
    split = draw(st.integers(1, len(all_names)))
    spec: dict[str, Any] = {"containers": draw(containers(all_names[:split]))}
    init_shape = draw(st.sampled_from(["absent", "null", "empty", "list"]))
    if init_shape != "absent":
        spec["initContainers"] = {"null": None, "empty": [], "list": None}[init_shape]
        if init_shape == "list":
            spec["initContainers"] = draw(containers(all_names[split:], init=True))
    volumes_shape = draw(st.sampled_from(["absent", "null", "list", "list"]))
    if volumes_shape != "absent":
        volume_names = draw(st.lists(DNS_LABEL, unique=True, max_size=4))
        if volume_names and _rarely(draw):
            volume_names[0] = "istio-envoy"
        spec["volumes"] = (
            None if volumes_shape == "null" else [{"name": v, "emptyDir": {}} for v in volume_names]
        )
    if _rarely(draw):
        spec["hostNetwork"] = draw(st.booleans())
    metadata: dict[str, Any] = {"generateName": "p-"}
    annotations_shape = draw(st.sampled_from(["absent", "null", "map"]))
    if annotations_shape != "absent":
        annotations = draw(st.dictionaries(KEY, ANY_TEXT, max_size=4))
        if _rarely(draw) or _rarely(draw):
            annotations |= draw(OUR_ANNOTATIONS)
        metadata["annotations"] = None if annotations_shape == "null" else annotations
    metadata["labels"] = draw(st.dictionaries(KEY, ANY_TEXT, max_size=3))
    if _rarely(draw):
        metadata["labels"][names.INJECT] = draw(SWITCH)
    return {"metadata": metadata, "spec": spec}


def contained(original: Any, result: Any) -> bool:
    """True when `result` still holds every field and value of `original`: mappings keep
    their keys, lists keep their items in order, and only a null may become a value."""
    if original is None:
        return True
    if isinstance(original, dict):
        return isinstance(result, dict) and all(
            key in result and contained(value, result[key]) for key, value in original.items()
        )
    if isinstance(original, list):
        if not isinstance(result, list):
            return False
        items = iter(result)
        return all(any(contained(item, other) for other in items) for item in original)
    return bool(original == result)


NAMESPACES = st.sampled_from(
    [
        None,
        policy.Namespace("shop", {"istio-injection": "enabled"}),
        policy.Namespace("shop", {}),
        policy.Namespace("shop", {"istio-injection": "disabled"}, {names.PROXY_CPU: "300m"}),
    ]
)


def _without_declared(pod: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The Pod without the istio-proxy/istio-init it declared (they are merged over the
    injected ones and placed like them), and those containers."""
    kept, declared = copy.deepcopy(pod), []
    for key in ("containers", "initContainers"):
        items = kept["spec"].get(key) or []
        for item in items:
            for (
                kind
            ) in PROBE_KINDS:  # rewritten for the agent: checked by _probes_are_sent_to_the_agent
                item.pop(kind, None)
        declared += [c for c in items if c["name"] in ("istio-proxy", "istio-init")]
        if items:
            kept["spec"][key] = [c for c in items if c["name"] not in ("istio-proxy", "istio-init")]
    return kept, declared


def _probes_are_sent_to_the_agent(original: dict[str, Any], result: dict[str, Any]) -> None:
    """Every app probe the kubelet runs over the network goes to the status port, and the
    agent knows the original of each probe it can replay."""
    annotations = original["metadata"].get("annotations") or {}
    if annotations.get(names.REWRITE_PROBES, "true") in ("false", "False", "FALSE", "0", "f", "F"):
        return
    proxy = _named(result, "istio-proxy")
    env = {e["name"]: e.get("value") for e in proxy["env"]}
    for before in [
        *(original["spec"].get("initContainers") or []),
        *original["spec"]["containers"],
    ]:
        if before["name"] in ("istio-proxy", "istio-init"):
            continue
        after = _named(result, before["name"])
        for kind, suffix in zip(PROBE_KINDS, ("readyz", "livez", "startupz"), strict=True):
            if kind not in before or "exec" in before[kind]:
                assert after.get(kind) == before.get(kind)
                continue
            url = f"/app-health/{before['name']}/{suffix}"
            assert after[kind]["httpGet"]["port"] == 15020
            assert after[kind]["httpGet"]["path"] == url
            if before[kind].get("httpGet", {}).get("port") != "http" or any(
                p.get("name") == "http" for p in before.get("ports") or []
            ):
                assert url in env[names.ENV_APP_PROBERS]


def _named(pod: dict[str, Any], name: str) -> dict[str, Any]:
    spec = pod["spec"]
    found = [c for key in ("containers", "initContainers") for c in spec.get(key) or []]
    return next(c for c in found if c["name"] == name)


ENGINE = Engine(config.Config(), template.load(config.DEFAULT_TEMPLATES))


@given(pod=pods(), ns=NAMESPACES, uid=st.text(min_size=1, max_size=40))
def test_any_pod_gets_a_safe_answer(
    pod: dict[str, Any], ns: policy.Namespace | None, uid: str
) -> None:
    engine = ENGINE
    original = copy.deepcopy(pod)
    body = support.review(pod, uid=uid)
    handled = handler.handle(body, engine=engine, namespaces=lambda _n: ns)
    response = handled.answer["response"]
    assert pod == original
    assert response["uid"] == uid
    assert isinstance(response["allowed"], bool)
    if not response["allowed"]:
        assert handled.reasons == ("invalid_annotation",)
        assert response["status"]["message"].startswith("cannot inject the sidecar: annotation")
        return
    ops = support.patch_of(handled.answer)
    if ops is None:
        assert handled.result == "skipped"
        return
    result = jsonpatch.JsonPatch(ops).apply(copy.deepcopy(original))
    support.validate_pod(result)
    kept, declared = _without_declared(original)
    assert contained(kept, result)
    for container in declared:
        assert contained(container, _named(result, container["name"]))
    _probes_are_sent_to_the_agent(original, result)
    again = handler.handle(support.review(result, uid=uid), engine=engine, namespaces=lambda _n: ns)
    assert support.patch_of(again.answer) is None


ORACLE = Engine(config.Config(), template.load(config.DEFAULT_TEMPLATES), render="diff")


@given(pod=pods(), ns=NAMESPACES)
def test_any_pod_gets_the_same_patch_from_the_render_plan_as_from_the_diff(
    pod: dict[str, Any], ns: policy.Namespace | None
) -> None:
    answers = [
        handler.handle(support.review(copy.deepcopy(pod)), engine=engine, namespaces=lambda _n: ns)
        for engine in (ENGINE, ORACLE)
    ]
    planned, diffed = (a.answer["response"] for a in answers)
    assert (answers[0].result, answers[0].reasons) == (answers[1].result, answers[1].reasons)
    assert (planned.get("warnings"), planned.get("status")) == (
        diffed.get("warnings"),
        diffed.get("status"),
    )
    assert support.patch_of(answers[0].answer) == support.patch_of(answers[1].answer)


@pytest.mark.parametrize(
    ("original", "result", "kept"),
    [
        pytest.param({"a": [1, 2]}, {"a": [1, 3, 2]}, True, id="list-grown"),
        pytest.param({"a": [1, 2]}, {"a": [2, 1]}, False, id="list-reordered"),
        pytest.param({"a": {"b": 1}}, {"a": {"b": 2}}, False, id="value-changed"),
        pytest.param({"a": None}, {"a": {"b": 1}}, True, id="null-filled"),
        pytest.param({"a": 1}, {}, False, id="key-removed"),
    ],
)
def test_the_containment_check_itself_can_fail(original: Any, result: Any, kept: bool) -> None:
    assert contained(original, result) is kept
