"""The command line: offline injection of every workload kind, check, and errors."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import support
import yaml

from injector.cli import main

POD_SPEC: dict[str, Any] = {"containers": [{"name": "app", "image": "app:1"}]}
TEMPLATE: dict[str, Any] = {"metadata": {"labels": {"app": "a"}}, "spec": POD_SPEC}


def _workload(kind: str) -> dict[str, Any]:
    api = {"Pod": "v1", "ReplicationController": "v1", "Job": "batch/v1",
           "CronJob": "batch/v1"}.get(kind, "apps/v1")  # fmt: skip
    obj: dict[str, Any] = {"apiVersion": api, "kind": kind, "metadata": {"name": kind.lower()}}
    if kind == "Pod":
        obj["spec"] = POD_SPEC
    elif kind == "CronJob":
        obj["spec"] = {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": TEMPLATE}}}
    else:
        obj["spec"] = {"template": TEMPLATE}
    return obj


def _pod_of(obj: dict[str, Any]) -> dict[str, Any]:
    if obj["kind"] == "Pod":
        return obj
    if obj["kind"] == "CronJob":
        return dict(obj["spec"]["jobTemplate"]["spec"]["template"])
    return dict(obj["spec"]["template"])


def _run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, documents: list[Any], *args: str
) -> tuple[int, list[Any], str]:
    path = tmp_path / "in.yaml"
    path.write_text(yaml.safe_dump_all(documents))
    status = main.main(["inject", "-f", str(path), *args])
    captured = capsys.readouterr()
    return status, list(yaml.safe_load_all(captured.out)), captured.err


KINDS = ["Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController",
         "Job", "CronJob", "DeploymentConfig"]  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_inject_handles_every_workload_kind(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str
) -> None:
    status, (out,), err = _run(capsys, tmp_path, [_workload(kind)])
    assert status == 0
    pod = _pod_of(out)
    assert [c["name"] for c in pod["spec"]["containers"]] == ["app", "istio-proxy"]
    support.validate_pod({"metadata": pod.get("metadata", {}), "spec": pod["spec"]})
    assert f"{kind} default/{kind.lower()}: injected" in err


def test_a_multi_document_file_keeps_every_document_in_order(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}
    status, out, err = _run(capsys, tmp_path, [_workload("Deployment"), service])
    assert status == 0
    assert [d["kind"] for d in out] == ["Deployment", "Service"]
    assert out[1] == service
    assert "Service default/s: unchanged" in err


def test_a_list_is_walked_item_by_item(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    items = [_workload("Pod"), _workload("Job")]
    status, (out,), err = _run(capsys, tmp_path, [{"apiVersion": "v1", "kind": "List",
                                                    "items": items}])  # fmt: skip
    assert status == 0
    assert all("istio-proxy" in str(_pod_of(item)) for item in out["items"])
    assert err.count("injected") == 2


def test_namespace_labels_apply_namespace_policy_offline(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, (out,), err = _run(
        capsys, tmp_path, [_workload("Deployment")], "--namespace-labels", "team=a"
    )
    assert status == 0
    assert out == _workload("Deployment")
    assert "skipped (namespace_not_enabled" in err


def test_a_denied_object_passes_through_and_fails_the_command(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = _workload("Pod")
    bad["metadata"]["annotations"] = {"sidecar.istio.io/proxyCPU": "lots"}
    status, (out,), err = _run(capsys, tmp_path, [bad])
    assert status == 1
    assert out == bad
    assert "sidecar.istio.io/proxyCPU='lots'" in err


def test_reading_from_stdin_works_through_python_dash_m(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "injector", "inject", "-f", "-"],
        input=yaml.safe_dump(_workload("Pod")),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "istio-proxy" in result.stdout


def test_invalid_yaml_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("kind: [")
    assert main.main(["inject", "-f", str(path)]) == 2
    err = capsys.readouterr().err
    assert "not valid YAML" in err and "Traceback" not in err


def test_a_missing_file_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["inject", "-f", "/nonexistent/x.yaml"]) == 2
    assert "No such file" in capsys.readouterr().err


def test_check_prints_the_effective_configuration(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("policy: disabled\n")
    assert main.main(["check", "--config", str(path)]) == 0
    effective = yaml.safe_load(capsys.readouterr().out)
    assert effective["config"]["policy"] == "disabled"
    assert effective["config"]["proxy"]["resources"]["requests"] == {
        "cpu": "100m",
        "memory": "128Mi",
    }
    assert len(effective["configHash"]) == 16


def test_check_refuses_a_bad_configuration(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("proxy: {uid: -1}\n")
    assert main.main(["check", "--config", str(path)]) == 2
    assert "proxy.uid" in capsys.readouterr().err


def test_the_console_script_and_module_agree_on_the_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "injector", "--version"], capture_output=True, text=True, check=False
    )
    assert (
        result.stdout.strip()
        == f"sidecar-injector {importlib.metadata.version('sidecar-injector')}"
    )


def test_revision_flag_injects_as_that_revision(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, (out,), _err = _run(
        capsys, tmp_path, [_workload("Pod")], "--revision", "canary",
        "--namespace-labels", "istio.io/rev=canary",
    )  # fmt: skip
    assert status == 0
    proxy = out["spec"]["containers"][-1]
    env = {e["name"]: e.get("value") for e in proxy["env"]}
    assert env["CA_ADDR"] == "istiod-canary.istio-system.svc:15012"
    assert '"revision":"canary"' in out["metadata"]["annotations"]["sidecar.istio.io/status"]


def test_revision_flag_skips_a_namespace_of_another_revision(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, (out,), err = _run(
        capsys, tmp_path, [_workload("Pod")], "--revision", "canary",
        "--namespace-labels", "istio-injection=enabled",
    )  # fmt: skip
    assert status == 0
    assert out == _workload("Pod")
    assert "default_revision_only" in err


def test_a_bad_revision_flag_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, _out, err = _run(capsys, tmp_path, [_workload("Pod")], "--revision", "Canary!")
    assert status == 2
    assert "revision" in err and "Traceback" not in err
