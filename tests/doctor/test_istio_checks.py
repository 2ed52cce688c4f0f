"""Istio's ConfigMaps, read and current: missing ones, Istio's formats read by
injector.istio_config (errors fail, what is not modelled warns), and each replica's
/metrics against the ConfigMaps' resourceVersions."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support import doctor_cluster
from support.fake_kube import FakeApi

from injector.certs import issuing
from injector.cluster import kubeapi
from injector.core.config import Config
from injector.doctor import run, target

CONFIGMAPS = doctor_cluster.ISTIO_CONFIGMAPS


@pytest.fixture
def api() -> FakeApi:
    fake = FakeApi()
    doctor_cluster.healthy(fake, issuing.now_utc())
    return fake


def _lines(api: FakeApi, check: str, **options: Any) -> list[tuple[str, str]]:
    where = target.Target(kubeapi.Cluster(api), Config(), issuing.now_utc(), **options)
    return [(c.status, c.message) for c in run.run(where) if c.check == check]


def _put(api: FakeApi, name: str, **data: str) -> None:
    api.put(CONFIGMAPS, {"metadata": {"name": name, "namespace": "istio-system"}, "data": data})


def test_the_configmaps_are_parsed_with_istios_reader(api: FakeApi) -> None:
    assert _lines(api, "istio-config") == [
        ("pass", "ConfigMaps istio-system/istio and istio-system/istio-sidecar-injector parse")
    ]


def test_an_error_of_the_reader_fails_naming_the_configmap_and_key(api: FakeApi) -> None:
    _put(api, "istio", mesh="trustDomain: [1, 2]\n")
    ((status, message),) = _lines(api, "istio-config")
    assert status == "fail"
    assert message.startswith("ConfigMap istio-system/istio, key mesh: ")
    assert "trustDomain" in message


def test_what_the_reader_does_not_model_warns(api: FakeApi) -> None:
    config = doctor_cluster.INJECT_CONFIG + "templates:\n  sidecar: |\n    spec: {}\n"
    _put(api, "istio-sidecar-injector", values=doctor_cluster.VALUES, config=config)
    lines = _lines(api, "istio-config")
    assert lines[0][0] == "pass"
    warned = [m for status, m in lines[1:] if status == "warn"]
    assert warned and all("istio-sidecar-injector, key config" in m for m in warned), lines


def test_missing_configmaps_are_named_and_only_warn(api: FakeApi) -> None:
    api.delete(CONFIGMAPS, "istio-sidecar-injector")
    lines = _lines(api, "istio-config")
    assert lines == [
        (
            "warn",
            "no ConfigMap istio-system/istio-sidecar-injector: the injector keeps its own settings",
        ),
        ("pass", "ConfigMaps istio-system/istio parse"),
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


def test_pod_security_is_judged_with_istios_settings_the_cni_plugin_included(
    api: FakeApi,
) -> None:
    labels = {"istio-injection": "enabled", "pod-security.kubernetes.io/enforce": "baseline"}
    api.put(doctor_cluster.NAMESPACES, doctor_cluster.namespace("shop", **labels))
    assert [s for s, _m in _lines(api, "pod-security")] == ["fail"]
    values = json.dumps({**json.loads(doctor_cluster.VALUES), "istio_cni": {"enabled": True}})
    _put(api, "istio-sidecar-injector", values=values, config=doctor_cluster.INJECT_CONFIG)
    ((status, message),) = _lines(api, "pod-security")
    assert status == "pass" and "CNI plugin" in message
