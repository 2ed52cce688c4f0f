"""`plan` judges with Istio's configuration when the injector has it: the ConfigMaps of
--istio-namespace (or of the configuration's istioNamespace key), read once as the server
follows them, or Istio's three files offline; never both."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from support import plan_cluster as pc
from support.fake_kube import FakeApi

from injector.cli import main
from injector.cluster import kubeapi

CONFIGMAPS = "/api/v1/namespaces/istio-system/configmaps"
# The chart's values as istiod's ConfigMap holds them: bigger proxy reservations.
VALUES = json.dumps(
    {"global": {"proxy": {"resources": {"requests": {"cpu": "250m", "memory": "200Mi"},
                                        "limits": {"cpu": "1", "memory": "512Mi"}}}}}
)  # fmt: skip
PER_POD = {
    "requests": {"cpu": "250m", "memory": "200Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}
}  # fmt: skip
DEFAULT_PER_POD = {
    "requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "2", "memory": "1Gi"}
}  # fmt: skip


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    fake = FakeApi()
    monkeypatch.setattr(kubeapi, "connect_user", lambda *_a, **_k: kubeapi.Cluster(fake))
    pc.namespace(fake, "shop")
    pc.put(fake, "deployments", "shop", pc.deployment("web", 2, pc.template(pc.container("web"))))
    return fake


def _istio(api: FakeApi, name: str = "istio-sidecar-injector", **data: str) -> None:
    api.put(CONFIGMAPS, {"metadata": {"name": name, "namespace": "istio-system"}, "data": data})


def _plan(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    status = main.main(["plan", "shop", "-o", "json", *args])
    captured = capsys.readouterr()
    return status, orjson.loads(captured.out) if captured.out else None, captured.err


def _values_file(tmp_path: Path) -> Path:
    """VALUES as Istio's values file, for the offline flags."""
    path = tmp_path / "values.json"
    path.write_text(VALUES)
    return path


def _configmap_reads(api: FakeApi) -> list[str]:
    return [c.path for c in api.calls if "/configmaps" in c.path]


def test_the_istio_namespaces_configmaps_set_what_the_sidecars_add(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    _istio(api, values=VALUES, config="policy: enabled\n")
    _istio(api, "istio", mesh="trustDomain: cluster.local\n")
    status, plan, err = _plan(capsys, "--istio-namespace", "istio-system")
    assert status == 0, err
    assert plan["workloads"][0]["perPod"] == PER_POD
    assert plan["added"]["requests"] == {"cpu": "500m", "memory": "400Mi"}
    assert err == ""
    assert _configmap_reads(api) == [f"{CONFIGMAPS}/istio", f"{CONFIGMAPS}/istio-sidecar-injector"]


def test_the_configurations_istio_namespace_key_is_followed_as_the_server_follows_it(
    api: FakeApi, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _istio(api, values=VALUES)
    config = tmp_path / "config.yaml"
    config.write_text("istioNamespace: istio-system\n")
    status, plan, err = _plan(capsys, "--config", str(config))
    assert status == 0
    assert plan["workloads"][0]["perPod"] == PER_POD
    assert err == "warning: no ConfigMap istio-system/istio: its settings are the injector's own\n"


def test_without_istio_configuration_nothing_is_read_and_the_defaults_hold(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    _istio(api, values=VALUES)
    status, plan, _err = _plan(capsys)
    assert status == 0
    assert plan["workloads"][0]["perPod"] == DEFAULT_PER_POD
    assert _configmap_reads(api) == []


def test_istios_files_are_read_offline_as_inject_reads_them(
    api: FakeApi, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    values = _values_file(tmp_path)
    status, plan, _err = _plan(capsys, "--valuesFile", str(values))
    assert status == 0
    assert plan["workloads"][0]["perPod"] == PER_POD
    assert _configmap_reads(api) == []


def test_the_namespace_and_the_files_together_are_refused_before_any_call(
    api: FakeApi, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    values = _values_file(tmp_path)
    status, plan, err = _plan(
        capsys, "--istio-namespace", "istio-system", "--valuesFile", str(values)
    )
    assert (status, plan) == (2, None)
    assert "--istio-namespace and --valuesFile both give Istio's configuration" in err
    assert err.count("\n") == 1
    assert api.calls == []


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        pytest.param(
            lambda api: api.fail_next("GET", "/configmaps/istio", 403),
            "plan: cannot read ConfigMap istio-system/istio: 403",
            id="forbidden",
        ),
        pytest.param(
            lambda api: api.fail_next("GET", "/configmaps/istio", 0),
            "plan: ",
            id="unreachable",
        ),
        pytest.param(
            lambda api: _istio(api, values='{"global": {"proxy": {"resources": 3}}}'),
            "plan: ConfigMap istio-system/istio-sidecar-injector, key values: ",
            id="broken-values",
        ),
    ],
)
def test_an_unreadable_or_broken_configmap_exits_2_naming_it(
    api: FakeApi, capsys: pytest.CaptureFixture[str], setup: Any, message: str
) -> None:
    setup(api)
    status, plan, err = _plan(capsys, "--istio-namespace", "istio-system")
    assert (status, plan) == (2, None)
    assert err.startswith(f"sidecar-injector: {message}"), err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_revisions_configmaps_are_read_for_a_revisioned_injector(
    api: FakeApi, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _istio(api, "istio-sidecar-injector-canary", values=VALUES)
    config = tmp_path / "config.yaml"
    config.write_text("revision: canary\n")
    status, plan, _err = _plan(
        capsys, "--config", str(config), "--istio-namespace", "istio-system",
        "--label", "istio.io/rev=canary",
    )  # fmt: skip
    assert status == 0
    assert plan["workloads"][0]["perPod"] == PER_POD
    assert _configmap_reads(api) == [
        f"{CONFIGMAPS}/istio-canary", f"{CONFIGMAPS}/istio-sidecar-injector-canary"
    ]  # fmt: skip
