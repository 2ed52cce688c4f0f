"""`doctor` against the fake API: ours alone and healthy exits 0; istiod's webhooks as
Istio 1.20.8 registers them are named and exit 1; an unreachable cluster is one line and
exit 2; never a traceback."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from support import doctor_cluster, istio_chart
from support.fake_kube import FakeApi

from injector.certs import issuing
from injector.cli import main
from injector.cluster import kubeapi
from injector.core import config_file

Capture = pytest.CaptureFixture[str]


@pytest.fixture
def api() -> FakeApi:
    fake = FakeApi(version=("1", "30"))
    doctor_cluster.healthy(fake, issuing.now_utc())
    return fake


@pytest.fixture
def doctor(monkeypatch: pytest.MonkeyPatch, api: FakeApi, capsys: Capture) -> Any:
    """Run `sidecar-injector doctor ARGS` against `api`: (exit status, stdout, stderr)."""

    def connect_user(kubeconfig: Path | None, *, context: str | None) -> kubeapi.Cluster:
        return kubeapi.Cluster(api)

    monkeypatch.setattr(kubeapi, "connect_user", connect_user)

    def run(*args: str) -> tuple[int, str, str]:
        status = main.main(["doctor", *args])
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return status, out, err

    return run


def _by_check(out: str) -> dict[str, list[dict[str, str]]]:
    found: dict[str, list[dict[str, str]]] = {}
    for line in orjson.loads(out):
        found.setdefault(line["check"], []).append(line)
    return found


def test_ours_alone_and_healthy_passes_every_check_and_exits_0(doctor: Any) -> None:
    status, out, _err = doctor("-o", "json")
    checks = _by_check(out)
    assert status == 0
    for name in (
        "webhook-registered", "webhook-ca-bundle", "lease", "secret", "other-webhooks",
        "namespaces", "pod-security", "native-sidecar", "istio-config-current",
    ):  # fmt: skip
        assert [c["status"] for c in checks[name]] == ["pass"], checks[name]
    assert "shop" in checks["namespaces"][0]["message"]


def test_the_text_report_has_one_line_per_check_and_a_summary(doctor: Any) -> None:
    status, out, _err = doctor()
    lines = out.splitlines()
    assert status == 0
    assert lines[0].startswith("[pass] webhook-registered: MutatingWebhookConfiguration")
    assert lines[-1].endswith("no blocking problem")


@pytest.mark.parametrize(
    "configurations",
    [
        pytest.param([istio_chart.sidecar_injector()], id="chart"),
        pytest.param([istio_chart.revision_tag_default()], id="revision-tag-default"),
        pytest.param(
            [istio_chart.sidecar_injector(), istio_chart.revision_tag_default()], id="both"
        ),
    ],
)
def test_istiods_webhooks_as_the_1_20_8_chart_registers_them_are_named_and_exit_1(
    doctor: Any, api: FakeApi, configurations: list[dict[str, Any]]
) -> None:
    for configuration in configurations:
        api.put(doctor_cluster.WEBHOOKS, configuration)
    status, out, _err = doctor("-o", "json")
    failures = [c for c in _by_check(out)["other-webhooks"] if c["status"] == "fail"]
    assert status == 1
    named = {c["message"].split(" ")[0]: c["message"] for c in failures}
    # rev.namespace. selects istio.io/rev=default, which no namespace carries here; the
    # object entries take Pods that opt in themselves, in namespaces without labels.
    entries = ("namespace.", "object.", "rev.object.")
    assert sorted(named) == sorted(
        f"{c['metadata']['name']}/{e}sidecar-injector.istio.io"
        for c in configurations
        for e in entries
    )
    for name, message in named.items():
        assert "skips those Pods as already injected" in message
        if "/namespace." in name:
            assert "on Pods in namespaces shop:" in message
        else:
            assert "Pods labelled" in message and "shop" not in message
    assert all("docs/beside-istiod.md" in c["hint"] for c in failures)


def test_istiods_webhooks_deactivated_by_istioctl_tag_set_are_not_a_failure(
    doctor: Any, api: FakeApi
) -> None:
    api.put(doctor_cluster.WEBHOOKS, istio_chart.deactivated(istio_chart.sidecar_injector()))
    status, out, _err = doctor("-o", "json")
    assert status == 0
    assert [c["status"] for c in _by_check(out)["other-webhooks"]] == ["pass"]


def test_a_namespace_moved_to_our_revision_is_not_reached_by_istiods_webhooks(
    doctor: Any, api: FakeApi, tmp_path: Path
) -> None:
    """The migration of docs/beside-istiod.md: our revision, namespace relabelled."""
    config = tmp_path / "config.yaml"
    config.write_text("revision: ours\n")
    api.objects[doctor_cluster.WEBHOOKS].clear()
    doctor_cluster.healthy(api, issuing.now_utc(), config_file.load(config))
    api.put(doctor_cluster.NAMESPACES, doctor_cluster.namespace("shop", **{"istio.io/rev": "ours"}))
    api.put(
        doctor_cluster.NAMESPACES,
        doctor_cluster.namespace("legacy", **{"istio-injection": "enabled"}),
    )
    api.put(doctor_cluster.WEBHOOKS, istio_chart.sidecar_injector())
    status, out, _err = doctor("--config", str(config), "-o", "json")
    checks = _by_check(out)
    assert status == 0, out
    assert "1 namespace labelled for us: shop" in checks["namespaces"][0]["message"]
    assert "legacy (istio-injection=enabled" in checks["namespaces"][0]["message"]


def test_an_unreachable_cluster_is_one_line_and_exit_2(
    doctor: Any, api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise kubeapi.ApiError(0, "Unreachable", "connection refused")

    monkeypatch.setattr(api, "request", unreachable)
    status, out, err = doctor()
    assert status == 2
    assert out == ""
    assert err == "sidecar-injector: doctor: connection refused\n"


def test_an_unusable_kubeconfig_is_one_line_and_exit_2(tmp_path: Path, capsys: Capture) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    assert main.main(["doctor", "--kubeconfig", str(kubeconfig)]) == 2
    _out, err = capsys.readouterr()
    assert err.count("\n") == 1 and str(kubeconfig) in err and "Traceback" not in err


def test_a_kubeconfig_pointing_nowhere_is_one_line_and_exit_2(
    tmp_path: Path, capsys: Capture
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
    )
    assert main.main(["doctor", "--kubeconfig", str(kubeconfig)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("sidecar-injector: doctor: ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["-o", "yaml"], "invalid choice: 'yaml'", id="output"),
        pytest.param(["--istio-namespace", "Not_A_Name"], "is not a valid name", id="istio-ns"),
        pytest.param(
            ["--config", "/nonexistent/config.yaml"], "/nonexistent/config.yaml", id="config"
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    doctor: Any, capsys: Capture, args: list[str], message: str
) -> None:
    try:
        status = main.main(["doctor", *args])
    except SystemExit as exit_:
        status = int(exit_.code or 0)
    _out, err = capsys.readouterr()
    assert status == 2
    assert message in err and "Traceback" not in err


def test_a_lease_not_renewed_is_a_warning_and_keeps_exit_0(doctor: Any, api: FakeApi) -> None:
    stale = issuing.now_utc() - datetime.timedelta(minutes=10)
    lease = api.objects[f"/apis/coordination.k8s.io/v1/namespaces/{doctor_cluster.NS}/leases"]
    lease["sidecar-injector-leader"]["spec"]["renewTime"] = stale.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    status, out, _err = doctor("-o", "json")
    assert status == 0
    (line,) = _by_check(out)["lease"]
    assert line["status"] == "warn" and "expired" in line["message"] and line["hint"]
