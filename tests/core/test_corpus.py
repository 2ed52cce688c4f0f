"""The bad-input corpus: Pods and namespaces the real world sends, each with the answer
it must get. (Broken HTTP calls are in http_cases.BAD_CALLS; grammars in test_grammar.)

Expected answers:
- injected: allowed with a patch that applies and gives a valid Pod;
- skipped: allowed without a patch, with the reason in auditAnnotations (and a warning
  when a person should act);
- denied: allowed false with a status message naming the problem.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import support
from fastapi.testclient import TestClient

from injector.core import handler, policy
from injector.core.engine import Engine
from injector.server.app import State, create_app

Mangle = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Case:
    mangle: Mangle
    result: str  # injected | skipped | denied
    reason: str
    says: str = ""  # in a warning (skipped/injected) or in the status message (denied)
    ns_labels: dict[str, str] | None = None


def _annotate(**annotations: str) -> Mangle:
    return lambda pod: pod["metadata"].setdefault("annotations", {}).update(annotations)


def _label(**labels: str) -> Mangle:
    return lambda pod: pod["metadata"]["labels"].update(labels)


def _spec(**fields: Any) -> Mangle:
    return lambda pod: pod["spec"].update(copy.deepcopy(fields))


def _container(**fields: Any) -> Mangle:
    return lambda pod: pod["spec"]["containers"][0].update(copy.deepcopy(fields))


def _pad_annotations(total: int) -> Mangle:
    return _annotate(**{"example.com/padding": "x" * (total - len("example.com/padding"))})


CPU = "sidecar.istio.io/proxyCPU"
INJECT = "sidecar.istio.io/inject"
NATIVE = "sidecar.istio.io/nativeSidecar"
CASES = {
    # Annotation size: the status annotation must not push the Pod over 256 KiB.
    "annotations-200KiB": Case(_pad_annotations(200 * 1024), "injected", "namespace_selector_trusted"),
    "annotations-255.9KiB": Case(_pad_annotations(256 * 1024 - 100), "skipped", "annotation_size_limit", "256 KiB"),
    # Names and ports that collide with what is injected.
    # A declared istio-proxy/istio-init is merged over the injected one, not a conflict.
    "container-named-istio-proxy": Case(lambda p: p["spec"]["containers"].append({"name": "istio-proxy", "image": "x"}), "injected", "namespace_selector_trusted"),
    "init-container-named-istio-init": Case(_spec(initContainers=[{"name": "istio-init", "image": "x"}]), "injected", "namespace_selector_trusted"),
    "volume-named-istio-data": Case(_spec(volumes=[{"name": "istio-data", "emptyDir": {}}]), "skipped", "volume_name_conflict", "volume named like"),
    "app-port-15001": Case(_container(ports=[{"containerPort": 15001}]), "skipped", "port_conflict", "port the proxy"),
    # The proxy's user id: iptables lets that user's traffic through unredirected.
    "pod-runs-as-1337": Case(_spec(securityContext={"runAsUser": 1337}), "skipped", "app_runs_as_proxy_uid", "user or group id"),
    "container-runs-as-1337": Case(_container(securityContext={"runAsUser": 1337}), "skipped", "app_runs_as_proxy_uid", "user or group id"),
    "pod-group-1337": Case(_spec(securityContext={"runAsGroup": 1337}), "skipped", "app_runs_as_proxy_uid", "user or group id"),
    "container-group-1337": Case(_container(securityContext={"runAsGroup": 1337}), "skipped", "app_runs_as_proxy_uid", "user or group id"),
    "container-overrides-pod-gid": Case(lambda p: (_spec(securityContext={"runAsGroup": 1337})(p), _container(securityContext={"runAsGroup": 1000})(p)), "injected", "namespace_selector_trusted"),
    "native-init-runs-as-1337": Case(lambda p: (_annotate(**{NATIVE: "true"})(p), _spec(initContainers=[{"name": "setup", "image": "x", "securityContext": {"runAsUser": 1337}}])(p)), "skipped", "app_runs_as_proxy_uid", "user or group id"),
    "native-init-group-1337": Case(lambda p: (_annotate(**{NATIVE: "true"})(p), _spec(initContainers=[{"name": "setup", "image": "x", "securityContext": {"runAsGroup": 1337}}])(p)), "skipped", "app_runs_as_proxy_uid", "user or group id"),
    "classic-init-runs-as-1337": Case(lambda p: (_annotate(**{NATIVE: "false"})(p), _spec(initContainers=[{"name": "setup", "image": "x", "securityContext": {"runAsUser": 1337}}])(p)), "injected", "namespace_selector_trusted"),
    "container-overrides-pod-uid": Case(lambda p: (_spec(securityContext={"runAsUser": 1337})(p), _container(securityContext={"runAsUser": 1000})(p)), "injected", "namespace_selector_trusted"),
    # Pod Security admission forbids NET_ADMIN/NET_RAW below "privileged".
    "psa-restricted": Case(lambda p: None, "skipped", "pod_security_level", "Pod Security", {"istio-injection": "enabled", "pod-security.kubernetes.io/enforce": "restricted"}),
    "psa-baseline": Case(lambda p: None, "skipped", "pod_security_level", "Pod Security", {"istio-injection": "enabled", "pod-security.kubernetes.io/enforce": "baseline"}),
    "psa-privileged": Case(lambda p: None, "injected", "namespace_enabled", "", {"istio-injection": "enabled", "pod-security.kubernetes.io/enforce": "privileged"}),
    "psa-warn-only": Case(lambda p: None, "injected", "namespace_enabled", "", {"istio-injection": "enabled", "pod-security.kubernetes.io/warn": "restricted"}),
    # Boolean switches: Go's ParseBool, anything else falls back with a warning.
    "inject-TRUE": Case(_label(**{INJECT: "TRUE"}), "injected", "pod_label_enabled", "", {}),
    "inject-0": Case(_label(**{INJECT: "0"}), "skipped", "pod_label_disabled"),
    "inject-tRuE": Case(_label(**{INJECT: "tRuE"}), "skipped", "namespace_not_enabled", "not a boolean", {}),
    "inject-space-true": Case(_annotate(**{INJECT: " true"}), "skipped", "namespace_not_enabled", "not a boolean", {}),
    "inject-yes": Case(_annotate(**{INJECT: "yes"}), "injected", "namespace_selector_trusted", "not a boolean"),
    # Quantities: strict grammar, refused with the annotation and the value named.
    "cpu-control-character": Case(_annotate(**{CPU: "100m\x07"}), "denied", "invalid_annotation", "proxyCPU='100m\\x07'"),
    "proxy-config-unknown-field": Case(_annotate(**{"proxy.istio.io/config": "holdApplication: true"}), "denied", "invalid_annotation", "annotation proxy.istio.io/config: unknown"),
    "proxy-config-wrong-type": Case(_annotate(**{"proxy.istio.io/config": "concurrency: '2'"}), "denied", "invalid_annotation", "proxy.istio.io/config: field concurrency"),
    "cpu-NaN": Case(_annotate(**{CPU: "NaN"}), "denied", "invalid_annotation", "proxyCPU='NaN'"),
    "cpu-underscore": Case(_annotate(**{CPU: "1_000"}), "denied", "invalid_annotation", "proxyCPU='1_000'"),
    "cpu-full-width": Case(_annotate(**{CPU: "１２"}), "denied", "invalid_annotation", "proxyCPU='１２'"),
    "cpu-trailing-newline": Case(_annotate(**{CPU: "100m\n"}), "denied", "invalid_annotation", "proxyCPU='100m\\n'"),
    "cpu-negative": Case(_annotate(**{CPU: "-1"}), "denied", "invalid_annotation", "must not be negative"),
    "cpu-yaml-injection": Case(_annotate(**{CPU: '100m"\n  - name: evil\n    image: "x'}), "denied", "invalid_annotation", "proxyCPU="),
    # Port, CIDR and interface lists.
    "ports-bad-token": Case(_annotate(**{"traffic.sidecar.istio.io/excludeInboundPorts": "80,abc"}), "denied", "invalid_annotation", "'abc'"),
    "ports-out-of-range": Case(_annotate(**{"traffic.sidecar.istio.io/excludeOutboundPorts": "70000"}), "denied", "invalid_annotation", "'70000'"),
    "cidr-bad-prefix": Case(_annotate(**{"traffic.sidecar.istio.io/excludeOutboundIPRanges": "10.0.0.0/33"}), "denied", "invalid_annotation", "10.0.0.0/33"),
    "interface-shell": Case(_annotate(**{"traffic.sidecar.istio.io/excludeInterfaces": "eth0;rm -rf /"}), "denied", "invalid_annotation", "interface name"),
    # Guaranteed QoS stays Guaranteed (checked further below too).
    "guaranteed-qos": Case(_container(resources={"limits": {"cpu": "1", "memory": "1Gi"}}), "injected", "namespace_selector_trusted"),
    # Existing native sidecars of the user keep their place.
    "user-native-sidecar": Case(_spec(initContainers=[{"name": "log-shipper", "image": "x", "restartPolicy": "Always"}]), "injected", "namespace_selector_trusted"),
    # Istio's proxy vocabulary: each bad value denied, naming the annotation.
    "proxy-image-with-space": Case(_annotate(**{"sidecar.istio.io/proxyImage": "repo/proxy :1"}), "denied", "invalid_annotation", "sidecar.istio.io/proxyImage"),
    "interception-none": Case(_annotate(**{"sidecar.istio.io/interceptionMode": "NONE"}), "injected", "namespace_selector_trusted"),
    "interception-none-lowercase": Case(_annotate(**{"sidecar.istio.io/interceptionMode": "none"}), "denied", "invalid_annotation", "sidecar.istio.io/interceptionMode"),
    "status-port-newline": Case(_annotate(**{"status.sidecar.istio.io/port": "15020\n"}), "denied", "invalid_annotation", "status.sidecar.istio.io/port"),
    "log-level-template-text": Case(_annotate(**{"sidecar.istio.io/logLevel": "{{ .Values }}"}), "denied", "invalid_annotation", "sidecar.istio.io/logLevel"),
    "user-volume-privileged-field": Case(_annotate(**{"sidecar.istio.io/userVolume": '{"v":{"emptyDir":{},"privileged":true}}'}), "denied", "invalid_annotation", "sidecar.istio.io/userVolume"),
    "user-mount-not-json": Case(_annotate(**{"sidecar.istio.io/userVolumeMount": "v:/x"}), "denied", "invalid_annotation", "sidecar.istio.io/userVolumeMount"),
    "bootstrap-override-path": Case(_annotate(**{"sidecar.istio.io/bootstrapOverride": "../etc"}), "denied", "invalid_annotation", "sidecar.istio.io/bootstrapOverride"),
    "unknown-template": Case(_annotate(**{"inject.istio.io/templates": "waypoint"}), "denied", "invalid_annotation", "no template named 'waypoint'"),
    "gateway-template": Case(_annotate(**{"inject.istio.io/templates": "gateway"}), "injected", "namespace_selector_trusted"),
    # Revisions: istio.io/rev routes a Pod or namespace to one control plane.
    "pod-of-another-revision": Case(_label(**{"istio.io/rev": "canary"}), "skipped", "other_revision", "", {}),
    "namespace-both-labels": Case(lambda p: None, "injected", "namespace_enabled", "", {"istio-injection": "enabled", "istio.io/rev": "canary"}),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
def test_corpus_case_gets_its_expected_answer(
    engine: Engine, pod: dict[str, Any], name: str
) -> None:
    case = CASES[name]
    case.mangle(pod)
    ns = None if case.ns_labels is None else policy.Namespace("shop", case.ns_labels)
    handled = handler.handle(
        support.review(copy.deepcopy(pod)), engine=engine, namespaces=lambda _n: ns
    )
    response = handled.answer["response"]
    assert (handled.result, handled.reasons[0]) == (case.result, case.reason)
    assert response["auditAnnotations"]["decision"] == case.result
    if case.result == "denied":
        assert response["allowed"] is False
        assert case.says in response["status"]["message"]
        return
    assert response["allowed"] is True
    if case.says:
        assert any(case.says in warning for warning in response.get("warnings", []))
    if case.result == "injected":
        support.validate_pod(support.apply(pod, handled.answer))
    else:
        assert support.patch_of(handled.answer) is None


def _qos(pod: dict[str, Any]) -> str:
    containers = pod["spec"]["containers"] + pod["spec"].get("initContainers", [])
    for container in containers:
        resources = container.get("resources") or {}
        limits = resources.get("limits") or {}
        requests = resources.get("requests") or limits
        if set(limits) < {"cpu", "memory"} or any(requests.get(k) != limits[k] for k in limits):
            return "Burstable"
    return "Guaranteed"


def test_a_guaranteed_pod_is_still_guaranteed_after_injection(
    engine: Engine, pod: dict[str, Any]
) -> None:
    CASES["guaranteed-qos"].mangle(pod)
    assert _qos(pod) == "Guaranteed"
    handled = handler.handle(support.review(copy.deepcopy(pod)), engine=engine)
    assert _qos(support.apply(pod, handled.answer)) == "Guaranteed"


def test_a_user_native_sidecar_keeps_its_place_before_istio_init(
    engine: Engine, pod: dict[str, Any]
) -> None:
    CASES["user-native-sidecar"].mangle(pod)
    result = support.apply(
        pod, handler.handle(support.review(copy.deepcopy(pod)), engine=engine).answer
    )
    assert [c["name"] for c in result["spec"]["initContainers"]] == ["log-shipper", "istio-init"]
    assert result["spec"]["initContainers"][0]["restartPolicy"] == "Always"


def test_a_pod_with_megabytes_of_managed_fields_is_injected_without_touching_them(
    engine: Engine, pod: dict[str, Any]
) -> None:
    entry = {"manager": "kubectl", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1",
             "fieldsV1": {f"f:field-{i}": {} for i in range(2000)}}  # fmt: skip
    pod["metadata"]["managedFields"] = [copy.deepcopy(entry) for _ in range(100)]
    body = support.review(pod)
    with TestClient(create_app(State(engine=engine))) as client:
        response = client.post("/inject", json=body)
    assert len(response.request.content) > 3 * 1024 * 1024
    assert response.status_code == 200
    ops = support.patch_of(response.json())
    assert ops and not any("managedFields" in op["path"] for op in ops)
    result = support.apply(pod, response.json())
    assert result["metadata"]["managedFields"] == pod["metadata"]["managedFields"]
