"""`inject` and `check` with Istio's own files (--meshConfigFile, --valuesFile,
--injectConfigFile), as istioctl kube-inject takes them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from injector.cli import main

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p", "namespace": "shop"},
    "spec": {"containers": [{"name": "app", "image": "app:1"}]},
}
VALUES = {"global": {"hub": "reg.example/istio", "tag": "1.20.8", "meshID": "m1"}}
MESH = "trustDomain: corp.example\ndefaultConfig:\n  drainDuration: 23s\n"


def _files(tmp_path: Path, **texts: str) -> dict[str, Path]:
    paths = {}
    for name, text in texts.items():
        paths[name] = tmp_path / name
        paths[name].write_text(text)
    return paths


def _proxy(pod: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in pod["spec"]["containers"] if c["name"] == "istio-proxy")


def _env(pod: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value") for e in _proxy(pod)["env"]}


def test_inject_applies_the_mesh_config_and_values_and_warns_on_stderr(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    files = _files(
        tmp_path,
        **{"in.yaml": yaml.safe_dump(POD), "mesh.yaml": MESH, "v.json": json.dumps(VALUES)},
    )
    status = main.main([
        "inject", "-f", str(files["in.yaml"]),
        "--meshConfigFile", str(files["mesh.yaml"]), "--valuesFile", str(files["v.json"]),
    ])  # fmt: skip
    captured = capsys.readouterr()
    pod = yaml.safe_load(captured.out)
    assert status == 0
    assert _proxy(pod)["image"] == "reg.example/istio/proxyv2:1.20.8"
    assert _env(pod)["TRUST_DOMAIN"] == "corp.example"
    assert json.loads(_env(pod)["PROXY_CONFIG"]) == {"drainDuration": "23s"}
    assert f"warning: --valuesFile {files['v.json']}: global.meshID=m1 not modelled" in (
        captured.err
    )


def test_a_missing_istio_file_keeps_the_config_files_settings(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    files = _files(
        tmp_path,
        **{"c.yaml": "mesh: {trustDomain: ours.example}\nproxy: {imagePullPolicy: Never}\n"},
        **{"v.json": json.dumps({"global": {"imagePullPolicy": "Always"}})},
    )
    status = main.main(
        ["check", "--config", str(files["c.yaml"]), "--valuesFile", str(files["v.json"])]
    )
    printed = yaml.safe_load(capsys.readouterr().out)
    assert status == 0
    assert printed["config"]["mesh"]["trustDomain"] == "ours.example"
    assert printed["config"]["proxy"]["imagePullPolicy"] == "Always"
    assert "warnings" not in printed


def test_check_prints_the_warnings_with_the_effective_settings(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    files = _files(tmp_path, **{"inject.yaml": "templates:\n  custom: |\n    metadata: {}\n"})
    status = main.main(["check", "--injectConfigFile", str(files["inject.yaml"])])
    captured = capsys.readouterr()
    printed = yaml.safe_load(captured.out)
    assert status == 0
    assert len(printed["warnings"]) == 1
    assert "template 'custom' is not one of Istio 1.20.8's" in printed["warnings"][0]
    assert "warning: --injectConfigFile" in captured.err


@pytest.mark.parametrize(
    ("flag", "text", "message"),
    [
        pytest.param("--meshConfigFile", "a: [", "not valid YAML", id="mesh-not-yaml"),
        pytest.param(
            "--valuesFile",
            '{"global": {"imagePullPolicy": [3]}}',
            "key global.imagePullPolicy: must be a string, got a list",
            id="values-wrong-type",
        ),
        pytest.param(
            "--injectConfigFile",
            "policy: maybe",
            "key policy: must be enabled or disabled",
            id="config-bad-policy",
        ),
    ],
)
def test_a_bad_istio_file_is_a_one_line_error_naming_flag_file_and_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, flag: str, text: str, message: str
) -> None:
    path = _files(tmp_path, f=text)["f"]
    status = main.main(["check", flag, str(path)])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith(f"sidecar-injector: {flag} {path}: ")
    assert message in err
    assert err.count("\n") == 1


def test_an_unreadable_istio_file_names_the_flag(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "none.json"
    status = main.main(["check", "--valuesFile", str(missing)])
    assert status == 2
    assert capsys.readouterr().err == (
        f"sidecar-injector: --valuesFile {missing}: cannot read: No such file or directory\n"
    )
