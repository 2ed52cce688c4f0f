"""Istio's ConfigMaps, read and current: missing ones, the reader of Istio's formats
(a stand-in with the shared interface: load(base, Sources) -> Settings, errors as
ConfigError), and each replica's /metrics against the ConfigMaps' resourceVersions."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from typing import Any

import pytest
from support import doctor_cluster
from support.fake_kube import FakeApi

from injector.certs import issuing
from injector.cluster import kubeapi
from injector.core.config import Config, ConfigError
from injector.doctor import run, target

CONFIGMAPS = doctor_cluster.ISTIO_CONFIGMAPS


@pytest.fixture(autouse=True)
def _no_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a stand-in, no reader of Istio's formats (whether or not this build has
    one): each test that wants one installs its own."""
    monkeypatch.setitem(sys.modules, "injector.istio_config", None)


@pytest.fixture
def api() -> FakeApi:
    fake = FakeApi()
    doctor_cluster.healthy(fake, issuing.now_utc())
    return fake


def _lines(api: FakeApi, check: str, **options: Any) -> list[tuple[str, str]]:
    where = target.Target(kubeapi.Cluster(api), Config(), issuing.now_utc(), **options)
    return [(c.status, c.message) for c in run.run(where) if c.check == check]


@dataclass(frozen=True)
class _Sources:
    mesh: str | None = None
    values: str | None = None
    inject_config: str | None = None
    mesh_origin: str = "mesh config"
    values_origin: str = "values"
    inject_config_origin: str = "injector config"


@dataclass(frozen=True)
class _Settings:
    config: Config
    warnings: tuple[str, ...]


def _reader(monkeypatch: pytest.MonkeyPatch, load: Any) -> list[Any]:
    """Install a stand-in `injector.istio_config`; returns the Sources it was given."""
    seen: list[Any] = []
    module = types.ModuleType("injector.istio_config")

    def recording(base: Config, sources: Any) -> Any:
        seen.append(sources)
        return load(base, sources)

    module.Sources = _Sources  # type: ignore[attr-defined]
    module.load = recording  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "injector.istio_config", module)
    return seen


def test_the_configmaps_are_parsed_with_istios_reader_and_their_origins(
    api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _reader(monkeypatch, lambda base, sources: _Settings(base, ()))
    assert _lines(api, "istio-config") == [
        ("pass", "ConfigMaps istio-system/istio and istio-system/istio-sidecar-injector parse")
    ]
    (sources,) = seen
    assert sources.mesh == doctor_cluster.MESH
    assert sources.values == doctor_cluster.VALUES
    assert sources.inject_config == doctor_cluster.INJECT_CONFIG
    assert sources.values_origin == "ConfigMap istio-system/istio-sidecar-injector, key values"


def test_an_error_of_the_reader_fails_and_its_warnings_warn(
    api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(base: Config, sources: Any) -> Any:
        raise ConfigError("ConfigMap istio-system/istio, key mesh: trustDomain: not a string")

    _reader(monkeypatch, broken)
    assert _lines(api, "istio-config") == [
        ("fail", "ConfigMap istio-system/istio, key mesh: trustDomain: not a string")
    ]
    _reader(monkeypatch, lambda base, sources: _Settings(base, ("templates: not stock",)))
    assert ("warn", "templates: not stock") in _lines(api, "istio-config")


def test_missing_configmaps_are_named_and_only_warn(api: FakeApi) -> None:
    api.delete(CONFIGMAPS, "istio-sidecar-injector")
    lines = _lines(api, "istio-config")
    assert lines == [
        (
            "warn",
            "no ConfigMap istio-system/istio-sidecar-injector: the injector keeps its own settings",
        )
    ]


def test_a_revisions_configmaps_are_the_ones_looked_for(api: FakeApi) -> None:
    messages = [m for _s, m in _lines(api, "istio-config", istio_revision="canary")]
    assert any("istio-system/istio-canary:" in m for m in messages)
    assert any("istio-system/istio-sidecar-injector-canary:" in m for m in messages)


def test_no_istio_namespace_is_one_warning(api: FakeApi) -> None:
    assert _lines(api, "istio-config", istio_namespace="elsewhere") == [
        ("warn", "no namespace elsewhere: no Istio installation to follow there")
    ]
    assert _lines(api, "istio-config-current", istio_namespace="elsewhere") == []


def test_a_replica_behind_a_changed_configmap_is_named(api: FakeApi) -> None:
    api.put(CONFIGMAPS, {"metadata": {"name": "istio", "namespace": "istio-system"},
                         "data": {"mesh": "trustDomain: example.org\n"}})  # fmt: skip
    stale = doctor_cluster.REPLICAS[1]
    version = api.objects[CONFIGMAPS]["istio"]["metadata"]["resourceVersion"]
    doctor_cluster.report_current(api)
    api.proxied[doctor_cluster.proxy_path(stale)] = doctor_cluster.metrics("108", "109")
    assert _lines(api, "istio-config-current") == [
        ("warn", f"replica {stale} uses ConfigMap istio version 108, current {version}")
    ]


def test_a_replica_keeping_its_last_good_settings_is_named(api: FakeApi) -> None:
    cms = api.objects[CONFIGMAPS]
    pod = doctor_cluster.REPLICAS[0]
    api.proxied[doctor_cluster.proxy_path(pod)] = doctor_cluster.metrics(
        cms["istio"]["metadata"]["resourceVersion"],
        cms["istio-sidecar-injector"]["metadata"]["resourceVersion"],
        healthy=0,
    )
    assert _lines(api, "istio-config-current") == [
        ("warn", f"replica {pod} ignores a broken ConfigMap istio, keeping the last good")
    ]


def test_a_replica_that_does_not_read_istios_configmaps_is_named(api: FakeApi) -> None:
    pod = doctor_cluster.REPLICAS[0]
    api.proxied[doctor_cluster.proxy_path(pod)] = "process_cpu_seconds_total 1.0\n"
    lines = _lines(api, "istio-config-current")
    assert [s for s, _m in lines] == ["warn", "warn"]
    assert f"replica {pod} does not report reading ConfigMap istio" in lines[0][1]


def test_metrics_refused_by_rbac_are_a_warning_not_a_failure(api: FakeApi) -> None:
    for pod in doctor_cluster.REPLICAS:
        api.proxied[doctor_cluster.proxy_path(pod)] = 403
    lines = _lines(api, "istio-config-current")
    assert [s for s, _m in lines] == ["warn", "warn"]
    assert all("cannot read /metrics of" in m and "403" in m for _s, m in lines)


def test_configmaps_refused_by_rbac_are_a_warning_and_the_run_goes_on(api: FakeApi) -> None:
    api.fail_next("GET", "/configmaps/istio", 403)
    lines = _lines(api, "istio-config")
    assert lines[0][0] == "warn" and "cannot read ConfigMap istio-system/istio" in lines[0][1]
