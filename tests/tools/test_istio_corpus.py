"""The corpus tool's comparison logic, on tiny synthetic Pods (no Istio checkout needed)."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import corpus_compare
import istio_corpus


def _pod() -> dict[str, Any]:
    env = [
        {"name": "PROXY_CONFIG", "value": "{}"},
        {"name": "ISTIO_META_POD_PORTS", "value": '[{"containerPort":80}]'},
        {"name": "ISTIO_META_APP_CONTAINERS", "value": ""},
        {"name": "GOMAXPROCS", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
    ]
    proxy = {"name": "istio-proxy", "args": ["proxy", "sidecar"], "env": env,
             "ports": [{"containerPort": 15090}], "securityContext": {"runAsUser": 1337},
             "volumeMounts": [{"name": "a", "mountPath": "/a"}]}  # fmt: skip
    return {
        "metadata": {"labels": {"app": "x"}, "annotations": {"sidecar.istio.io/status": "{}"}},
        "spec": {
            "initContainers": [{"name": "istio-init", "args": ["-m", "REDIRECT"]}],
            "containers": [{"name": "app", "readinessProbe": {"httpGet": {"port": 80}}}, proxy],
            "volumes": [{"name": "a", "emptyDir": {}}, {"name": "b", "configMap": {"name": "c"}}],
        },
    }


def _istio_style(pod: dict[str, Any]) -> dict[str, Any]:
    """The same Pod as Istio's Go serialisation writes it."""
    theirs = copy.deepcopy(pod)
    theirs["metadata"]["annotations"]["sidecar.istio.io/status"] = '{"revision":"default"}'
    proxy = theirs["spec"]["containers"][1]
    proxy["env"] = [
        {"name": "PROXY_CONFIG", "value": "{}\n"},
        {"name": "ISTIO_META_POD_PORTS", "value": '[\n    {"containerPort":80}\n]'},
        {"name": "ISTIO_META_APP_CONTAINERS"},
        {"name": "GOMAXPROCS",
         "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "0"}}},
    ]  # fmt: skip
    theirs["spec"]["volumes"] = [{"name": "b", "configMap": {"name": "c"}}, {"name": "a"}]
    return theirs


def test_serialisation_differences_are_not_differences() -> None:
    assert set(corpus_compare.compare(_pod(), _istio_style(_pod())).values()) == {None}


@pytest.mark.parametrize(
    ("change", "aspect"),
    [
        pytest.param(lambda p: p["metadata"]["labels"].update(tier="x"), "labels", id="labels"),
        pytest.param(lambda p: p["metadata"]["annotations"].update(a="b"), "annotations",
                     id="annotations"),
        pytest.param(lambda p: p["spec"]["containers"][0].update(readinessProbe=None),
                     "app probes", id="app-probe"),
        pytest.param(lambda p: p["spec"]["containers"][1]["env"].pop(), "proxy env", id="env"),
        pytest.param(lambda p: p["spec"]["containers"][1]["args"].append("-v"), "proxy args",
                     id="proxy-args"),
        pytest.param(lambda p: p["spec"]["initContainers"][0]["args"].append("-q"), "init args",
                     id="init-args"),
        pytest.param(lambda p: p["spec"]["volumes"].pop(), "mounts and volumes", id="volume"),
        pytest.param(lambda p: p["spec"]["containers"][1]["securityContext"].update(runAsUser=0),
                     "proxy ports and securityContext", id="security"),
    ],
)  # fmt: skip
def test_a_change_shows_in_its_aspect_only(change: Any, aspect: str) -> None:
    theirs = _istio_style(_pod())
    change(theirs)
    differences = corpus_compare.compare(_pod(), theirs)
    assert [name for name, found in differences.items() if found] == [aspect]


def test_a_container_only_one_side_added_is_not_an_app_container() -> None:
    theirs = _istio_style(_pod())
    theirs["spec"]["initContainers"].append({"name": "enable-core-dump"})
    assert corpus_compare.compare(_pod(), theirs)["app probes"] is None


@pytest.mark.parametrize(
    ("document", "count"),
    [
        pytest.param({"kind": "Pod", "spec": {}}, 1, id="pod"),
        pytest.param({"kind": "Deployment", "spec": {"template": {"spec": {}}}}, 1, id="deploy"),
        pytest.param({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {}}}}}, 1,
                     id="cronjob"),
        pytest.param({"kind": "List", "items": [{"kind": "Pod"}, {"kind": "Service"}]}, 1,
                     id="list"),
        pytest.param({"kind": "Service", "spec": {}}, 0, id="service"),
    ],
)  # fmt: skip
def test_pod_templates_are_found_in_every_kind(document: dict[str, Any], count: int) -> None:
    assert len(corpus_compare.pod_templates(document)) == count


def test_a_case_is_tallied_per_aspect_through_our_inject() -> None:
    engine = istio_corpus._engine({})
    text = yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                           "spec": {"containers": [{"name": "app", "image": "a"}]}})  # fmt: skip
    tally = istio_corpus.Tally()
    ours, _ = istio_corpus.workloads.inject_text(text, engine, ns_labels=None)
    golden = yaml.safe_load(ours)
    golden["spec"]["containers"][1]["args"].append("--extra")
    istio_corpus.run_case("p.yaml.injected", text, yaml.safe_dump(golden), engine, tally)
    assert tally.compared == 1
    assert tally.agree["proxy args"] == 0
    assert all(count == 1 for aspect, count in tally.agree.items() if aspect != "proxy args")
    assert len(tally.differences) == 1 and "--extra" in tally.differences[0]


def test_a_golden_pod_we_do_not_inject_is_listed_not_compared() -> None:
    engine = istio_corpus._engine({})
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"hostNetwork": True, "containers": [{"name": "app", "image": "a"}]},
    }
    golden = copy.deepcopy(pod)
    golden["metadata"]["annotations"] = {"sidecar.istio.io/status": "{}"}  # fmt: skip
    tally = istio_corpus.Tally()
    istio_corpus.run_case("p", yaml.safe_dump(pod), yaml.safe_dump(golden), engine, tally)
    assert (tally.compared, len(tally.not_injected)) == (0, 1)


def test_cases_use_the_settings_table_and_skip_unsupported_ones() -> None:
    listing = ["hello.yaml", "hello.yaml.injected", "hello-tproxy.yaml.injected",
               "hello-always.yaml.injected", "hello-cncf-networks.yaml.injected",
               "bad.yaml"]  # fmt: skip
    found = {golden: (source, settings) for golden, source, settings, _ in
             istio_corpus.cases(listing)}  # fmt: skip
    assert found["hello.yaml.injected"] == ("hello.yaml", {})
    assert found["hello-tproxy.yaml.injected"] == (
        "hello.yaml",
        {"mesh": {"proxyConfig": {"interceptionMode": "TPROXY"}}},
    )
    assert found["hello-cncf-networks.yaml.injected"] == ("hello.yaml", None)
    assert found["hello-always.yaml.injected"][1] == {"proxy": {"imagePullPolicy": "Always"}}
