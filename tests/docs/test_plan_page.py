"""docs/plan.md shows `plan`'s real output: its example is run again against the fake
API and must print what the page says, and its ClusterRole must allow every call."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
import yaml
from support import plan_cluster
from support.fake_kube import FakeApi

from injector.cli import main
from injector.cluster import kubeapi

PAGE = Path(__file__).resolve().parents[2] / "docs" / "plan.md"


def _block(marker: str) -> str:
    found = re.search(rf"<!-- {marker} -->\n```\w+\n(.*?)^```", PAGE.read_text(), re.M | re.S)
    assert found is not None, f"docs/plan.md has no block after <!-- {marker} -->"
    return found[1]


def _run(monkeypatch: pytest.MonkeyPatch, api: FakeApi) -> tuple[int, str]:
    monkeypatch.setattr(kubeapi, "connect_user", lambda *_a, **_k: kubeapi.Cluster(api))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main.main(["plan", "shop"])
    return status, out.getvalue()


@pytest.mark.parametrize(("fixed", "status"), [pytest.param(False, 1, id="broken"),
                                               pytest.param(True, 0, id="fixed")])  # fmt: skip
def test_the_page_shows_the_real_output(
    monkeypatch: pytest.MonkeyPatch, fixed: bool, status: int
) -> None:
    api = FakeApi()
    plan_cluster.documented_shop(api, fixed=fixed)
    assert _run(monkeypatch, api) == (
        status,
        _block(f"plan-output: {'fixed' if fixed else 'broken'}"),
    )


def test_the_documented_cluster_role_allows_every_call_plan_makes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rules = yaml.safe_load(_block("plan-rbac"))["rules"]
    allowed = {
        (group, resource, verb)
        for rule in rules for group in rule["apiGroups"]
        for resource in rule["resources"] for verb in rule["verbs"]
    }  # fmt: skip
    api = FakeApi()
    plan_cluster.documented_shop(api, fixed=False)
    api.put("/apis/apps/v1/namespaces/shop/daemonsets", {"metadata": {"name": "agent"}})
    _run(monkeypatch, api)
    for call in api.calls:
        if call.path == "/version":
            continue  # every authenticated client may read it
        parts = call.path.strip("/").split("/")
        group = "" if parts[0] == "api" else parts[1]
        rest = parts[2:] if parts[0] == "api" else parts[3:]
        if rest[0] == "namespaces" and len(rest) > 2:
            rest = rest[2:]  # a namespaced collection
        verb = "list" if len(rest) == 1 else "get"
        assert call.method == "GET"
        assert (group, rest[0], verb) in allowed, call.path


def test_the_documented_istio_role_allows_the_configmap_reads_and_no_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    role = yaml.safe_load(_block("plan-rbac-istio"))
    namespace = role["metadata"]["namespace"]
    (rule,) = role["rules"]
    api = FakeApi()
    plan_cluster.documented_shop(api, fixed=True)
    monkeypatch.setattr(kubeapi, "connect_user", lambda *_a, **_k: kubeapi.Cluster(api))
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        main.main(["plan", "shop", "--istio-namespace", namespace])
    reads = [c for c in api.calls if "/configmaps" in c.path]
    assert reads, "plan read no ConfigMap"
    prefix = f"/api/v1/namespaces/{namespace}/configmaps/"
    for call in reads:
        assert call.method == "GET" and call.path.startswith(prefix), call.path
        assert "get" in rule["verbs"] and rule["resources"] == ["configmaps"]
        assert call.path.removeprefix(prefix) in rule["resourceNames"], call.path
