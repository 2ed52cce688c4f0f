"""`plan` against the fake API: what labelling a namespace would do, judged by the
webhook's engine, with an exit status that gates a pipeline (0 safe, 1 breaks, 2 error)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from support import plan_cluster as pc
from support.fake_kube import FakeApi

from injector.cli import main
from injector.cluster import kubeapi
from injector.core import names

RESTRICTED = {"pod-security.kubernetes.io/enforce": "restricted"}
BASELINE = {"pod-security.kubernetes.io/enforce": "baseline"}
APP = pc.container("web", requests={"cpu": "200m", "memory": "256Mi"},
                   limits={"cpu": "1", "memory": "512Mi"})  # fmt: skip


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    fake = FakeApi()
    monkeypatch.setattr(kubeapi, "connect_user", lambda *_a, **_k: kubeapi.Cluster(fake))
    return fake


def _plan(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    status = main.main(["plan", *args, "-o", "json"])
    captured = capsys.readouterr()
    return status, orjson.loads(captured.out) if captured.out else None, captured.err


def _shop(api: FakeApi, replicas: int = 3, **labels: str) -> None:
    pc.namespace(api, "shop", **labels)
    pc.put(api, "deployments", "shop", pc.deployment("web", replicas, pc.template(APP)))


def test_a_quota_the_sidecars_overflow_is_named_with_the_pod_that_overflows_it(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    _shop(api)
    hard = {"requests.cpu": "2", "requests.memory": "1Gi", "pods": "10"}
    used = {"requests.cpu": "600m", "requests.memory": "768Mi", "pods": "3"}
    pc.put(api, "resourcequotas", "shop", pc.quota("compute", hard, used))
    status, plan, _err = _plan(capsys, "shop")
    assert status == 1 and plan["safe"] is False
    assert plan["problems"] == [
        {
            "kind": "ResourceQuota",
            "name": "compute",
            "workload": "Deployment/web",
            "message": "requests.memory: used 768Mi + 384Mi from the sidecars = 1152Mi,"
            " hard 1Gi: over by 128Mi; the 3rd Pod of Deployment/web overflows it",
        }
    ]
    assert [(q["resource"], q["after"], q["exceeded"]) for q in plan["quotas"]] == [
        ("requests.cpu", "900m", False), ("requests.memory", "1152Mi", True)
    ]  # fmt: skip


def test_a_limit_range_max_below_the_proxy_limit_refuses_every_pod(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    _shop(api)
    pc.put(api, "limitranges", "shop",
           pc.limit_range("sizes", {"type": "Container", "max": {"memory": "512Mi"}}))  # fmt: skip
    status, plan, _err = _plan(capsys, "shop")
    assert status == 1
    # istio-init carries the proxy's own resources (as in Istio 1.20.8): both are refused.
    assert [(p["kind"], p["name"], p["workload"]) for p in plan["problems"]] == [
        ("LimitRange", "sizes", "Deployment/web")
    ] * 2
    assert sorted(p["message"] for p in plan["problems"]) == [
        f"container {name}: maximum memory usage per Container is 512Mi, but limit is 1Gi"
        for name in ("istio-init", "istio-proxy")
    ]


@pytest.mark.parametrize(
    ("labels", "level"),
    [pytest.param(RESTRICTED, "restricted", id="restricted"),
     pytest.param(BASELINE, "baseline", id="baseline")],
)  # fmt: skip
def test_a_pod_security_level_refuses_istio_init_capabilities(
    api: FakeApi, capsys: pytest.CaptureFixture[str], labels: dict[str, str], level: str
) -> None:
    _shop(api, **labels)
    status, plan, _err = _plan(capsys, "shop")
    assert status == 1
    [workload] = plan["workloads"]
    assert (workload["inject"], workload["reason"]) == (False, "pod_security_level")
    [problem] = plan["problems"]
    assert (problem["kind"], problem["name"]) == ("PodSecurity", level)
    assert 'container "istio-init" must not include "NET_ADMIN", "NET_RAW"' in problem["message"]
    # Only what the injection brings: the app's own shortcomings are not the label's doing.
    assert 'container "web"' not in problem["message"]
    assert ("runAsUser=0" in problem["message"]) == (level == "restricted")


def test_host_network_and_opted_out_workloads_are_not_injected_and_add_nothing(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    pc.namespace(api, "shop")
    opted_out = pc.template(APP, labels={names.INJECT: "false"})
    pc.put(api, "deployments", "shop", pc.deployment("quiet", 2, opted_out))
    pc.put(
        api, "daemonsets", "shop", pc.deployment("agent", None, pc.template(APP, hostNetwork=True))
    )
    pc.node(api, "n1")
    status, plan, _err = _plan(capsys, "shop")
    assert status == 0 and plan["safe"] is True
    found = {
        (w["kind"], w["name"]): (w["pods"], w["inject"], w["reason"]) for w in plan["workloads"]
    }
    assert found == {
        ("Deployment", "quiet"): (2, False, "pod_label_disabled"),
        ("DaemonSet", "agent"): (1, False, "host_network"),
    }
    assert plan["added"] == {"requests": {"cpu": "0", "memory": "0"},
                             "limits": {"cpu": "0", "memory": "0"}}  # fmt: skip
    assert plan["notes"] == ["no workload would be injected"]


def test_a_deployment_at_zero_replicas_is_listed_and_adds_nothing(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    _shop(api, replicas=0)
    status, plan, _err = _plan(capsys, "shop")
    assert status == 0
    [workload] = plan["workloads"]
    assert (workload["pods"], workload["inject"]) == (0, True)
    assert workload["perPod"]["requests"] == {"cpu": "100m", "memory": "128Mi"}
    assert workload["added"]["requests"] == {"cpu": "0", "memory": "0"}


def test_the_json_is_the_documented_contract(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    _shop(api)
    status, plan, _err = _plan(capsys, "shop")
    assert status == 0
    assert list(plan) == [
        "namespace",
        "label",
        "safe",
        "workloads",
        "added",
        "quotas",
        "problems",
        "notes",
    ]
    assert plan["workloads"] == [
        {
            "kind": "Deployment", "name": "web", "pods": 3, "inject": True, "result": "injected",
            "reason": "namespace_enabled", "reasons": ["namespace_enabled"],
            "perPod": {"requests": {"cpu": "100m", "memory": "128Mi"},
                       "limits": {"cpu": "2", "memory": "1Gi"}},
            "added": {"requests": {"cpu": "300m", "memory": "384Mi"},
                      "limits": {"cpu": "6", "memory": "3Gi"}},
        }
    ]  # fmt: skip
    assert plan["added"] == plan["workloads"][0]["added"]


def test_several_namespaces_print_a_list_and_one_unsafe_namespace_fails_the_gate(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    _shop(api)
    pc.namespace(api, "locked", **RESTRICTED)
    pc.put(api, "deployments", "locked", pc.deployment("api", 1))
    status, plans, _err = _plan(capsys, "shop", "locked")
    assert status == 1
    assert [(p["namespace"], p["safe"]) for p in plans] == [("shop", True), ("locked", False)]


def test_a_revision_label_is_judged_by_the_revision_the_injector_serves(
    api: FakeApi, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _shop(api)
    config = tmp_path / "config.yaml"
    config.write_text("revision: canary\n")
    status, plan, _err = _plan(
        capsys, "shop", "--label", "istio.io/rev=canary", "--config", str(config)
    )
    assert (status, plan["label"]) == (0, "istio.io/rev=canary")
    assert [(w["inject"], w["reason"]) for w in plan["workloads"]] == [(True, "namespace_revision")]
    # The default configuration serves another revision: nothing would be injected.
    status, plan, _err = _plan(capsys, "shop", "--label", "istio.io/rev=canary")
    assert [(w["inject"], w["reason"]) for w in plan["workloads"]] == [(False, "other_revision")]
    assert plan["notes"] == ["no workload would be injected"]


def test_an_invalid_annotation_is_a_refusal_that_breaks(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    pc.namespace(api, "shop")
    broken = pc.template(APP)
    broken["metadata"]["annotations"] = {names.PROXY_CPU: "lots"}
    pc.put(api, "deployments", "shop", pc.deployment("web", 1, broken))
    status, plan, _err = _plan(capsys, "shop")
    assert status == 1
    [problem] = plan["problems"]
    assert (problem["kind"], problem["name"]) == ("Injection", "invalid_annotation")
    assert names.PROXY_CPU in problem["message"]


def test_a_daemon_set_counts_its_nodes_or_says_they_are_unknown(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    pc.namespace(api, "shop")
    pc.put(api, "daemonsets", "shop", pc.deployment("agent", None, pc.template(APP)))
    for name in ("n1", "n2"):
        pc.node(api, name)
    _status, plan, _err = _plan(capsys, "shop")
    assert plan["workloads"][0]["pods"] == 2
    assert plan["added"]["requests"] == {"cpu": "200m", "memory": "256Mi"}
    api.fail_next("GET", "/api/v1/nodes", 403)
    status, plan, _err = _plan(capsys, "shop")
    assert (status, plan["workloads"][0]["pods"], plan["workloads"][0]["added"]) == (0, None, None)
    assert plan["notes"] == [
        "DaemonSet/agent: Pods unknown (the nodes cannot be listed); not in the totals"
    ]


def test_plan_only_reads(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    _shop(api)
    _plan(capsys, "shop")
    assert {c.method for c in api.calls} == {"GET"}
    lists = [c for c in api.calls if c.path.endswith(tuple(pc.GROUPS))]
    assert {c.path.rsplit("/", 1)[1] for c in lists} == set(pc.GROUPS)
    assert all(c.query.get("limit") for c in lists)  # paginated


def _bad_quota(api: FakeApi) -> None:
    pc.put(api, "resourcequotas", "shop", pc.quota("q", {"cpu": "lots"}, {}))


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        pytest.param(None, ["nowhere"], "plan: namespace nowhere not found", id="no-namespace"),
        pytest.param(("/version", 0), ["shop"], "plan: injected failure", id="unreachable"),
        pytest.param(("/cronjobs", 403), ["shop"],
                     "plan: cannot list cronjobs in namespace shop: 403", id="forbidden-list"),
        pytest.param(_bad_quota, ["shop"], "plan: namespace shop: ", id="bad-quantity"),
    ],
)  # fmt: skip
def test_bad_input_and_an_unreachable_cluster_exit_2_with_one_line(
    api: FakeApi, capsys: pytest.CaptureFixture[str], setup: Any, args: list[str], message: str
) -> None:
    _shop(api)
    if isinstance(setup, tuple):
        api.fail_next("GET", *setup)
    elif setup is not None:
        setup(api)
    status, plan, err = _plan(capsys, *args)
    assert (status, plan) == (2, None)
    assert err.startswith(f"sidecar-injector: {message}") and err.count("\n") == 1
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["shop", "--label", "team=web"], id="not-an-injection-label"),
        pytest.param(["shop", "--label", "istio-injection"], id="no-value"),
        pytest.param(["../secrets"], id="namespace-not-a-name"),
    ],
)
def test_a_bad_argument_is_refused_before_any_call(
    api: FakeApi, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main.main(["plan", *args])
    assert exited.value.code == 2
    assert api.calls == []
    assert "error: argument" in capsys.readouterr().err


def test_the_text_report_is_a_short_table(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    _shop(api)
    assert main.main(["plan", "shop"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "namespace shop: labelling it istio-injection=enabled is safe"
    assert lines[1].split() == [
        "KIND",
        "NAME",
        "PODS",
        "INJECT",
        "REASON",
        "+REQUESTS",
        "cpu/mem",
        "+LIMITS",
        "cpu/mem",
    ]
    assert lines[2].split() == [
        "Deployment",
        "web",
        "3",
        "yes",
        "namespace_enabled",
        "300m/384Mi",
        "6/3Gi",
    ]
    assert lines[3] == "added in all (cpu/memory): requests 300m/384Mi, limits 6/3Gi"


@pytest.mark.parametrize(
    "version",
    [pytest.param(("1", "28"), id="classic-sidecar-before-1.29"),
     pytest.param(("1", "30"), id="native-sidecar-from-1.29")],
)  # fmt: skip
def test_the_sidecar_adds_the_same_whether_classic_or_native(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], version: Any
) -> None:
    fake = FakeApi(version=version)
    monkeypatch.setattr(kubeapi, "connect_user", lambda *_a, **_k: kubeapi.Cluster(fake))
    _shop(fake)
    pc.put(fake, "limitranges", "shop",
           pc.limit_range("sizes", {"type": "Container", "max": {"memory": "512Mi"}}))  # fmt: skip
    status, plan, _err = _plan(capsys, "shop")
    assert status == 1
    assert fake.calls[0].path == "/version"  # asked first, as the webhook asks it
    assert plan["workloads"][0]["perPod"]["requests"] == {"cpu": "100m", "memory": "128Mi"}
    # Among the containers or (native) the init containers, the LimitRange finds the proxy.
    assert any(
        p["message"].startswith("container istio-proxy: maximum memory") for p in plan["problems"]
    )
