"""`inject`'s input on first contact: a namespace that cannot be one, documents that hold
no Kubernetes object, and Ctrl+C while it reads standard input."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.cli import run

POD = "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: a, image: a}]}\n"


@pytest.mark.parametrize(
    "namespace",
    [
        pytest.param("Bad_Namespace!", id="punctuation"),
        pytest.param("UPPER", id="upper-case"),
        pytest.param("a" * 64, id="too-long"),
        pytest.param("", id="empty"),
    ],
)
def test_inject_refuses_a_namespace_that_is_not_a_dns_label(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, namespace: str
) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text(POD)
    status, out, err = run(capsys, "inject", "-f", str(path), "-n", namespace)
    assert status == 2
    assert "--namespace" in err
    assert out == ""


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("- a\n- b\n", id="list-of-scalars"),
        pytest.param("hello\n", id="plain-string"),
        pytest.param("42\n", id="number"),
        pytest.param("a: 1\n", id="mapping-without-kind"),
    ],
)
def test_input_without_a_kubernetes_object_says_so_and_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str
) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(text)
    status, _out, err = run(capsys, "inject", "-f", str(path))
    assert status == 2
    assert f"{path}: document 1 is not a Kubernetes object" in err


def test_one_document_without_an_object_among_others_stops_the_whole_input(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(POD + "---\n- a\n")
    status, out, err = run(capsys, "inject", "-f", str(path))
    assert status == 2
    assert (
        err.strip() == f"sidecar-injector: {path}: document 2 is not a Kubernetes object (a list)"
    )
    assert out == ""


def test_an_item_of_a_list_kind_that_is_not_an_object_is_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("apiVersion: v1\nkind: List\nitems: [hello]\n")
    status, _out, err = run(capsys, "inject", "-f", str(path))
    assert status == 2
    assert "document 1 item 1 is not a Kubernetes object (a plain string)" in err


def test_ctrl_c_while_inject_reads_stdin_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "injector", "inject", "-f", "-"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=tmp_path,
    )
    time.sleep(2)  # past the imports, into the read
    child.send_signal(signal.SIGINT)
    _out, err = child.communicate(timeout=20)
    assert child.returncode == 130
    assert "Traceback" not in err.decode()
    assert err.decode().strip() == "sidecar-injector: interrupted"


def test_report_lines_name_every_object_the_same_way(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(
        POD
        + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config}\n"
        + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"
    )
    status, _out, err = run(capsys, "inject", "-f", str(path), "-n", "shop")
    assert status == 0
    assert [line.split(":", 1)[0] for line in err.splitlines()] == [
        "Pod shop/a",
        "ConfigMap shop/web-config",
        "Namespace shop",
    ]


ANCHORED = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: shared  # a comment of the user's
data: &common
  mode: "fast"
other: *common
---
apiVersion: v1
kind: Pod
metadata:
  name: a
  labels: &labels {app: a}
spec:
  nodeSelector: *labels
  containers: [{name: a, image: a}]
"""


def test_objects_left_unchanged_pass_through_as_written_and_nothing_gets_an_anchor(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(ANCHORED)
    status, out, _err = run(capsys, "inject", "-f", str(path))
    assert status == 0
    documents = out.split("---\n")
    assert len(documents) == 2
    config_map, pod = documents
    assert config_map == ANCHORED.partition("---\n")[0]
    assert "&id" not in pod and "*id" not in pod
    assert "istio-proxy" in pod
