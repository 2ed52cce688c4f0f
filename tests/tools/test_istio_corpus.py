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
import istio_table

from injector.core import config, template


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
                     "proxy spec", id="security"),
        pytest.param(lambda p: p["spec"]["containers"][1].update(image="other:1"), "images",
                     id="image"),
        pytest.param(lambda p: p["spec"]["initContainers"][0].update(imagePullPolicy="Never"),
                     "pull policy", id="pull-policy"),
        pytest.param(lambda p: p["spec"].update(imagePullSecrets=[{"name": "s"}]),
                     "pull secrets", id="pull-secrets"),
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


def _engine() -> Any:
    return istio_corpus.Engine(config.Config(), template.load(config.DEFAULT_TEMPLATES))


def test_quantities_are_compared_by_value_and_empty_resources_are_none() -> None:
    ours, theirs = _pod(), _istio_style(_pod())
    ours["spec"]["containers"][1]["resources"] = {"limits": {"cpu": "2000m", "memory": "1024Mi"}}
    theirs["spec"]["containers"][1]["resources"] = {"limits": {"cpu": "2", "memory": "1Gi"}}
    assert corpus_compare.compare(ours, theirs)["proxy spec"] is None
    ours["spec"]["containers"][1]["resources"] = {}
    theirs["spec"]["containers"][1].pop("resources")
    assert corpus_compare.compare(ours, theirs)["proxy spec"] is None


def test_a_cronjob_whose_job_template_carries_the_injection_metadata_counts_as_injected() -> None:
    job = {"metadata": {"labels": {"a": "b"}, "annotations": {"sidecar.istio.io/status": "{}"}},
           "spec": {"template": {"spec": {"containers": []}}}}  # fmt: skip
    (pod,) = corpus_compare.pod_templates({"kind": "CronJob", "spec": {"jobTemplate": job}})
    assert corpus_compare.injected(pod)
    assert pod["metadata"]["labels"] == {"a": "b"}


def test_a_case_is_tallied_per_aspect_through_our_inject() -> None:
    engine = _engine()
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


def test_a_golden_pod_we_do_not_inject_is_a_decision_difference() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"hostNetwork": True, "containers": [{"name": "app", "image": "a"}]},
    }
    golden = copy.deepcopy(pod)
    golden["metadata"]["annotations"] = {"sidecar.istio.io/status": "{}"}  # fmt: skip
    tally = istio_corpus.Tally()
    istio_corpus.run_case("p", yaml.safe_dump(pod), yaml.safe_dump(golden), _engine(), tally)
    assert tally.compared == 0
    assert len(tally.decisions) == 1 and tally.decisions[0].startswith(
        "p: Istio injects, we do not"
    )


GO_TABLE = """
func TestInjection(t *testing.T) {
\tcases := []testCase{
\t\t// a comment with a { brace
\t\t{
\t\t\tin:       "hello.yaml",
\t\t\twant:     "hello-cni.yaml.injected",
\t\t\tsetFlags: []string{"values.istio_cni.enabled=true"},
\t\t},
\t\t{
\t\t\tin:   "hello.yaml",
\t\t\twant: "hello-tproxy.yaml.injected",
\t\t\tmesh: func(m *meshapi.MeshConfig) {
\t\t\t\tm.DefaultConfig.InterceptionMode = meshapi.ProxyConfig_TPROXY
\t\t\t\tif m.DefaultConfig.ProxyMetadata == nil {
\t\t\t\t\tm.DefaultConfig.ProxyMetadata = map[string]string{}
\t\t\t\t}
\t\t\t\tm.DefaultConfig.ProxyMetadata["K"] = "v"
\t\t\t},
\t\t},
\t\t{
\t\t\tin:            "bad.yaml",
\t\t\texpectedError: "includeipranges",
\t\t},
\t\t{
\t\t\tin:   "gateway.yaml",
\t\t\twant: "gateway.yaml.injected",
\t\t\tsetup: func(t test.Failer) {
\t\t\t\ttest.SetEnvForTest(t, features.EnableNativeSidecars.Name, "true")
\t\t\t},
\t\t},
\t}
\tfor _, t := range cases {
"""


def test_the_table_is_read_in_order_then_the_files_no_case_names() -> None:
    listing = ["a.yaml", "a.yaml.injected", "bad.yaml", "gateway.yaml", "hello.yaml",
               "x.iop.yaml"]  # fmt: skip
    cases = istio_table.read(GO_TABLE, listing)
    assert [(c.index, c.input, c.want) for c in cases] == [
        (0, "hello.yaml", "hello-cni.yaml.injected"),
        (1, "hello.yaml", "hello-tproxy.yaml.injected"),
        (2, "bad.yaml", ""),
        (3, "gateway.yaml", "gateway.yaml.injected"),
        (4, "a.yaml", "a.yaml.injected"),
        (5, "hello.yaml", "hello.yaml.injected"),
    ]
    assert cases[0].settings_file("values") == "hello.yaml.0.values.gen.yaml"
    assert cases[1].settings_file("mesh") == "default.mesh.gen.yaml"
    assert cases[1].mesh_changes == {"interceptionMode": "TPROXY", "proxyMetadata": {"K": "v"}}
    assert (cases[2].expected_error, cases[3].native, cases[0].native) == (
        "includeipranges", True, False)  # fmt: skip


def test_a_mesh_change_the_reader_does_not_know_is_an_error() -> None:
    source = GO_TABLE.replace("ProxyConfig_TPROXY", "ProxyConfig_TPROXY\n m.Other = 3")
    with pytest.raises(istio_table.TableError, match=r"case 1 \(hello.yaml\): mesh change"):
        istio_table.read(source, [])


def test_in_code_mesh_changes_apply_over_the_mesh_file() -> None:
    text = "defaultConfig:\n  proxyMetadata: {A: '1'}\ntrustDomain: t\n"
    changed = yaml.safe_load(
        istio_corpus._mesh_text(text, {"proxyMetadata": {"B": "2"}, "tracing": {}})
    )
    assert changed == {
        "defaultConfig": {"proxyMetadata": {"A": "1", "B": "2"}, "tracing": {}},
        "trustDomain": "t",
    }


def test_an_injected_container_only_one_side_has_shows_under_images_only() -> None:
    theirs = _istio_style(_pod())
    theirs["spec"]["initContainers"].append({"name": "enable-core-dump", "image": "p:1"})
    differences = corpus_compare.compare(_pod(), theirs)
    assert [name for name, found in differences.items() if found] == ["images"]


def test_the_report_gives_the_overall_share_and_each_explanation() -> None:
    tally = istio_corpus.Tally(compared=2)
    tally.agree = dict.fromkeys(tally.agree, 2) | {"images": 1}
    tally.differences = ["[28] traffic-annotations.yaml.injected: proxy spec: x"]
    tally.decisions = ["[53] grpc-agent.yaml.injected: Istio injects, we do not (r)"]
    lines: list[str] = []
    istio_corpus.report(tally, lines.append)
    total = 2 * len(tally.agree)
    assert f"overall: {total - 1} / {total} comparisons agree" in "\n".join(lines)
    assert lines[lines.index("  - " + tally.decisions[0]) + 1].startswith("    why: the grpc-agent")
    why = lines[lines.index("  - " + tally.differences[0]) + 1]
    assert why.startswith("    why: by design")
