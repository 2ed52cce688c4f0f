"""`audit`: missing, outdated and opted-out Pods, found with the webhook's own engine,
rendered for people and machines, with an exit status that gates a pipeline."""

from __future__ import annotations

import copy
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonpatch
import orjson
import pytest
from support.fake_kube import FakeApi

from injector.cli import main
from injector.cluster import audit, kubeapi
from injector.core import names, policy
from injector.core.engine import Engine
from injector.core.policy import Namespace

ENABLED = Namespace("shop", {"istio-injection": "enabled"})
PLAIN = Namespace("plain", {})
NAMESPACES = "/api/v1/namespaces"


def _pod(name: str = "web-1", namespace: str = "shop", **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "web"}, **metadata},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}], "nodeName": "node-1"},
        "status": {"phase": "Running"},
    }


def _injected(engine: Engine, pod: dict[str, Any]) -> dict[str, Any]:
    """The Pod as the webhook would have created it."""
    outcome = engine.inject(pod, namespace=pod["metadata"]["namespace"], ns=ENABLED)
    assert outcome.result == "injected"
    return dict(jsonpatch.apply_patch(copy.deepcopy(pod), outcome.ops))


def _with_status(pod: dict[str, Any], status: str) -> dict[str, Any]:
    pod["metadata"]["annotations"] = {names.STATUS: status}
    return pod


# ---- classify ----------------------------------------------------------------------------


def test_a_pod_injected_by_the_current_configuration_is_fine(engine: Engine) -> None:
    assert audit.classify(_injected(engine, _pod()), engine=engine, ns=ENABLED) is None


def test_a_pod_injected_by_another_configuration_is_outdated(
    engine: Engine, make_engine: Callable[..., Engine]
) -> None:
    older = make_engine({"proxy": {"image": "docker.io/istio/proxyv2:1.19.0"}})
    finding = audit.classify(_injected(older, _pod()), engine=engine, ns=ENABLED)
    assert finding is not None
    kind, _reasons, detail = finding
    assert kind == "outdated"
    assert older.fingerprint in detail and engine.fingerprint in detail


@pytest.mark.parametrize(
    ("pod", "finding", "detail"),
    [
        pytest.param(_pod(), "missing", "would be injected now", id="not-injected"),
        pytest.param(
            _pod(annotations={names.PROXY_CPU: "lots"}),
            "missing",
            "would be refused now",
            id="invalid-annotation",
        ),
        pytest.param(
            _pod(labels={names.INJECT: "false"}), "opted-out", "labelled", id="opt-out-label"
        ),
        pytest.param(
            _pod(annotations={names.INJECT: "false"}),
            "opted-out",
            "annotated",
            id="opt-out-annotation",
        ),
        pytest.param(
            _with_status(_pod(), '{"containers": ["istio-proxy"]}'),
            "outdated",
            "no configHash",
            id="istio-status",
        ),
        pytest.param(_with_status(_pod(), "{not json"), "outdated", "no configHash", id="garbled"),
    ],
)
def test_a_running_pod_is_classified_by_the_engine(
    engine: Engine, pod: dict[str, Any], finding: str, detail: str
) -> None:
    found = audit.classify(pod, engine=engine, ns=ENABLED)
    assert found is not None
    assert found[0] == finding
    assert detail in found[2]


@pytest.mark.parametrize(
    ("pod", "ns"),
    [
        pytest.param(_pod(namespace="plain"), PLAIN, id="namespace-not-enabled"),
        pytest.param(
            {**_pod(), "spec": {**_pod()["spec"], "hostNetwork": True}}, ENABLED, id="host-network"
        ),
        pytest.param(
            _pod(namespace="kube-system"), Namespace("kube-system", {}), id="system-namespace"
        ),
    ],
)
def test_a_pod_the_webhook_would_leave_alone_is_not_drift(
    engine: Engine, pod: dict[str, Any], ns: Namespace
) -> None:
    assert audit.classify(pod, engine=engine, ns=ns) is None


def test_a_missing_sidecar_names_the_reason(engine: Engine) -> None:
    found = audit.classify(_pod(), engine=engine, ns=ENABLED)
    assert found is not None
    assert found[1] == (policy.NAMESPACE_ENABLED,)


# ---- the report ---------------------------------------------------------------------------


@pytest.fixture
def pods(engine: Engine, make_engine: Callable[..., Engine]) -> list[dict[str, Any]]:
    older = make_engine({"proxy": {"image": "docker.io/istio/proxyv2:1.19.0"}})
    owned = {"ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                                  "uid": "u", "controller": True}]}  # fmt: skip
    done = _pod("job-1")
    done["status"]["phase"] = "Succeeded"
    return [
        _injected(engine, _pod("current")),
        _injected(older, _pod("old")),
        _pod("bare", **owned),
        _pod("shy", labels={names.INJECT: "false"}),
        _pod("elsewhere", namespace="plain"),
        done,
        _pod("orphan", namespace="deleted-meanwhile"),
    ]


def test_the_report_lists_each_finding_once_and_counts_the_pods_checked(
    engine: Engine, pods: list[dict[str, Any]]
) -> None:
    report = audit.audit(pods, {"shop": ENABLED, "plain": PLAIN}, engine)
    found = [(f.pod, f.finding, f.owner) for f in report.findings]
    assert found == [
        ("bare", "missing", "ReplicaSet/web"),
        ("old", "outdated", ""),
        ("shy", "opted-out", ""),
    ]
    assert report.checked == 5, "finished Pods and unknown namespaces are not checked"
    assert report.drift


def test_opted_out_pods_alone_are_not_drift(engine: Engine) -> None:
    report = audit.audit([_pod(labels={names.INJECT: "false"})], {"shop": ENABLED}, engine)
    assert report.count("opted-out") == 1
    assert not report.drift


def test_the_table_aligns_columns_and_ends_with_a_summary(
    engine: Engine, pods: list[dict[str, Any]]
) -> None:
    report = audit.audit(pods, {"shop": ENABLED, "plain": PLAIN}, engine)
    lines = audit.render_table(report).splitlines()
    assert lines[0].split() == ["NAMESPACE", "POD", "OWNER", "FINDING", "DETAIL"]
    assert len(lines) == 5
    column = lines[0].index("FINDING")
    assert [line[column:].split()[0] for line in lines[1:4]] == ["missing", "outdated", "opted-out"]
    assert lines[-1] == (
        f"5 Pods checked, drift: 1 missing, 1 outdated; 1 opted out"
        f" (configHash {engine.fingerprint})"
    )


def test_a_clean_table_is_only_the_summary(engine: Engine) -> None:
    report = audit.audit([_injected(engine, _pod())], {"shop": ENABLED}, engine)
    assert audit.render_table(report) == (
        f"1 Pods checked, no drift; 0 opted out (configHash {engine.fingerprint})\n"
    )


def test_the_json_report_is_for_machines(engine: Engine, pods: list[dict[str, Any]]) -> None:
    report = audit.audit(pods, {"shop": ENABLED, "plain": PLAIN}, engine)
    document = orjson.loads(audit.render_json(report))
    assert document["drift"] is True
    assert document["configHash"] == engine.fingerprint
    assert document["counts"] == {"missing": 1, "outdated": 1, "opted-out": 1}
    assert document["pods"][0] == {
        "namespace": "shop",
        "pod": "bare",
        "owner": "ReplicaSet/web",
        "finding": "missing",
        "reasons": ["namespace_enabled"],
        "detail": f"would be injected now: {policy.SENTENCES['namespace_enabled']}",
    }


# ---- against the API -------------------------------------------------------------------------


@pytest.fixture
def api(pods: list[dict[str, Any]]) -> FakeApi:
    api = FakeApi()
    for ns in (ENABLED, PLAIN):
        api.put(NAMESPACES, {"metadata": {"name": ns.name, "labels": dict(ns.labels)}})
    for pod in pods:
        api.put(f"{NAMESPACES}/{pod['metadata']['namespace']}/pods", pod)
    return api


def test_all_namespaces_are_listed_and_drift_exits_one(api: FakeApi, engine: Engine) -> None:
    out = io.StringIO()
    status = audit.run(kubeapi.Cluster(api), engine, namespace=None, output="json", out=out)
    assert status == 1
    assert [(c.method, c.path) for c in api.calls] == [
        ("GET", "/api/v1/namespaces"),
        ("GET", "/api/v1/pods"),
    ]
    assert orjson.loads(out.getvalue())["counts"]["missing"] == 1


def test_one_namespace_is_read_by_name(api: FakeApi, engine: Engine) -> None:
    out = io.StringIO()
    status = audit.run(kubeapi.Cluster(api), engine, namespace="plain", output="table", out=out)
    assert status == 0
    assert [(c.method, c.path) for c in api.calls] == [
        ("GET", "/api/v1/namespaces/plain"),
        ("GET", "/api/v1/namespaces/plain/pods"),
    ]
    assert out.getvalue().startswith("1 Pods checked, no drift")


def test_an_unknown_namespace_is_an_error(api: FakeApi, engine: Engine) -> None:
    with pytest.raises(audit.AuditError, match="namespace nowhere not found"):
        audit.run(
            kubeapi.Cluster(api), engine, namespace="nowhere", output="table", out=io.StringIO()
        )


# ---- the command ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "status"),
    [
        pytest.param(["-A"], 1, id="drift"),
        pytest.param(["-n", "plain"], 0, id="clean"),
        pytest.param(["-n", "nowhere"], 2, id="no-such-namespace"),
    ],
)
def test_the_audit_command_exit_status_gates_a_pipeline(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    api: FakeApi,
    args: list[str],
    status: int,
) -> None:
    used: list[Any] = []

    def connect_user(
        kubeconfig: Path | None, *, context: str | None, request_timeout: float | None = None
    ) -> kubeapi.Cluster:
        used.append((kubeconfig, context, request_timeout))
        return kubeapi.Cluster(api)

    monkeypatch.setattr(kubeapi, "connect_user", connect_user)
    assert main.main(["audit", "--kubeconfig", "kc.yaml", "--context", "dev", *args]) == status
    assert used == [(Path("kc.yaml"), "dev", 10.0)]
    if status == 2:
        assert "namespace nowhere not found" in capsys.readouterr().err


def test_the_audit_command_reports_an_unusable_kubeconfig(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    assert main.main(["audit", "--kubeconfig", str(kubeconfig)]) == 2
    assert str(kubeconfig) in capsys.readouterr().err


def test_namespace_and_all_namespaces_exclude_each_other(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main.main(["audit", "-n", "shop", "-A"])
    assert "not allowed with argument" in capsys.readouterr().err


# ---- forged status annotations and what reaches the terminal ------------------------------


def _forged(engine: Engine, **recorded: Any) -> dict[str, Any]:
    status = {"configHash": engine.fingerprint, **recorded}
    return _with_status(_pod(), orjson.dumps(status).decode())


@pytest.mark.parametrize(
    ("recorded", "lacks"),
    [
        pytest.param({}, "the proxy container istio-proxy", id="records-nothing"),
        pytest.param({"containers": ["istio-proxy"]}, "containers 'istio-proxy'", id="no-proxy"),
        pytest.param(
            {"containers": ["web"], "volumes": ["istio-envoy"]},
            "volumes 'istio-envoy'",
            id="no-volume",
        ),
        pytest.param(
            {"initContainers": ["istio-init", "istio-proxy"]},
            "initContainers 'istio-init'",
            id="native-shape-without-containers",
        ),
    ],
)
def test_a_forged_status_with_the_current_hash_is_missing_what_it_records(
    engine: Engine, recorded: dict[str, Any], lacks: str
) -> None:
    finding = audit.classify(_forged(engine, **recorded), engine=engine, ns=ENABLED)
    assert finding is not None
    kind, _reasons, detail = finding
    assert kind == "missing"
    assert lacks in detail


def test_a_pod_injected_with_a_native_sidecar_is_fine(
    make_engine: Callable[..., Engine],
) -> None:
    native = make_engine({"nativeSidecar": "true"})
    assert audit.classify(_injected(native, _pod()), engine=native, ns=ENABLED) is None


@pytest.mark.parametrize(
    "annotations",
    [
        pytest.param({"inject.istio.io/templates": "grpc-simple"}, id="grpc-simple-has-no-proxy"),
        pytest.param({"inject.istio.io/templates": "grpc-agent"}, id="grpc-agent"),
        pytest.param({"sidecar.istio.io/interceptionMode": "NONE"}, id="no-istio-init"),
    ],
)
def test_a_pod_injected_from_another_template_or_mode_is_fine(
    engine: Engine, annotations: dict[str, str]
) -> None:
    pod = _injected(engine, _pod(annotations=annotations))
    assert audit.classify(pod, engine=engine, ns=ENABLED) is None


def test_control_characters_from_a_pod_never_reach_the_terminal_raw(engine: Engine) -> None:
    hostile = "\x1b[2J\x1b[31mfine\r\x07"
    pod = _with_status(_pod(), orjson.dumps({"configHash": hostile}).decode())
    pod["metadata"]["name"] = "web\x1b[0m"
    table = audit.render_table(audit.audit([pod], {"shop": ENABLED}, engine))
    assert all(c.isprintable() or c == "\n" for c in table), repr(table)
    assert "\\x1b[2J" in table
    assert "web\\x1b[0m" in table
