"""Per-Pod values: resources, Guaranteed QoS, interception arguments, native sidecars."""

from __future__ import annotations

from typing import Any

import pytest

from injector.core import config_file, names, overrides, proxy_resources

SPEC: dict[str, Any] = {"containers": [{"name": "app", "image": "app"}]}


def _resolve(
    annotations: dict[str, str],
    *,
    spec: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    native_supported: bool | None = None,
) -> overrides.Resolved:
    """Every placeholder value for one Pod, as the engine puts them together."""
    config = config_file.from_mapping(settings or {})
    spec = spec or SPEC
    shared = overrides.settings(annotations, config, guaranteed=proxy_resources.is_guaranteed(spec))
    values = overrides.shared_values(shared, config)
    resolved = overrides.settled(
        annotations,
        config=config,
        native_supported=native_supported,
        shared=shared,
        values=values,
    )
    resolved.values.update(overrides.pod_values(spec))
    return resolved


def test_defaults_are_istios_requests_and_limits() -> None:
    resolved = _resolve({})
    assert resolved.values["proxy.resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "2000m", "memory": "1024Mi"},
    }
    init = resolved.values["init.resources"]
    assert set(init) == {"requests", "limits"}
    assert set(init["requests"]) == set(init["limits"]) == {"cpu", "memory"}


def test_a_limit_below_the_default_request_lowers_the_request_with_a_warning() -> None:
    resolved = _resolve({names.PROXY_CPU_LIMIT: "50m"})
    assert resolved.values["proxy.resources"]["requests"]["cpu"] == "50m"
    assert resolved.warnings == [
        "proxy cpu request lowered to 50m to match sidecar.istio.io/proxyCPULimit"
    ]


def test_an_explicit_request_above_an_explicit_limit_is_refused() -> None:
    with pytest.raises(overrides.Refused) as refused:
        _resolve({names.PROXY_MEMORY: "2Gi", names.PROXY_MEMORY_LIMIT: "1Gi"})
    assert refused.value.problems == [
        "annotation sidecar.istio.io/proxyMemory=2Gi is above sidecar.istio.io/proxyMemoryLimit=1Gi"
    ]


def test_every_invalid_annotation_is_reported_at_once() -> None:
    with pytest.raises(overrides.Refused) as refused:
        _resolve(
            {
                names.PROXY_CPU: "lots",
                names.EXCLUDE_INBOUND_PORTS: "80,abc",
                names.INCLUDE_OUTBOUND_IP_RANGES: "10.0.0.0/33",
                names.EXCLUDE_INTERFACES: "eth0;rm -rf /",
            }
        )
    keys = [problem.split("=")[0] for problem in refused.value.problems]
    assert keys == [
        "annotation sidecar.istio.io/proxyCPU",
        "annotation traffic.sidecar.istio.io/includeOutboundIPRanges",
        "annotation traffic.sidecar.istio.io/excludeInboundPorts",
        "annotation traffic.sidecar.istio.io/excludeInterfaces",
    ]


GUARANTEED: dict[str, Any] = {
    "containers": [
        {
            "name": "app",
            "image": "app",
            "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
        }
    ]
}


def test_a_guaranteed_pod_gets_a_proxy_with_requests_equal_to_limits() -> None:
    resolved = _resolve({}, spec=GUARANTEED)
    proxy, init = resolved.values["proxy.resources"], resolved.values["init.resources"]
    assert proxy["requests"] == proxy["limits"] == {"cpu": "100m", "memory": "128Mi"}
    assert init["requests"] == init["limits"]


def test_a_guaranteed_pod_with_only_a_limit_annotation_uses_it_for_both() -> None:
    resolved = _resolve({names.PROXY_CPU_LIMIT: "300m"}, spec=GUARANTEED)
    assert resolved.values["proxy.resources"]["requests"]["cpu"] == "300m"
    assert resolved.values["proxy.resources"]["limits"]["cpu"] == "300m"


def test_differing_explicit_values_on_a_guaranteed_pod_warn_of_losing_the_class() -> None:
    resolved = _resolve({names.PROXY_CPU: "100m", names.PROXY_CPU_LIMIT: "1"}, spec=GUARANTEED)
    assert resolved.values["proxy.resources"]["limits"]["cpu"] == "1"
    assert "loses Guaranteed QoS" in resolved.warnings[0]


@pytest.mark.parametrize(
    ("spec", "guaranteed"),
    [
        pytest.param(GUARANTEED, True, id="limits-only"),
        pytest.param(SPEC, False, id="no-resources"),
        pytest.param({"containers": [{"name": "a", "resources": {
            "requests": {"cpu": "1", "memory": "1Gi"},
            "limits": {"cpu": "1", "memory": "1Gi"}}}]}, True, id="equal"),
        pytest.param({"containers": [{"name": "a", "resources": {
            "requests": {"cpu": "1000m", "memory": "1024Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"}}}]}, True, id="equal-other-units"),
        pytest.param({"containers": [{"name": "a", "resources": {
            "requests": {"cpu": "500m", "memory": "1Gi"},
            "limits": {"cpu": "1", "memory": "1Gi"}}}]}, False, id="cpu-lower"),
        pytest.param({"containers": [{"name": "a", "resources": {
            "limits": {"cpu": "1"}}}]}, False, id="no-memory-limit"),
        pytest.param({"containers": GUARANTEED["containers"], "initContainers": [
            {"name": "i"}]}, False, id="init-without-limits"),
        pytest.param({"containers": [{"name": "a", "resources": {
            "limits": {"cpu": "NaN", "memory": "1Gi"}}}]}, False, id="unparsable"),
        pytest.param({"containers": [{"name": "a", "resources": {
            "limits": {"cpu": 2, "memory": "1Gi"}}}]}, True, id="number-quantity"),
    ],
)  # fmt: skip
def test_guaranteed_qos_detection(spec: dict[str, Any], guaranteed: bool) -> None:
    assert proxy_resources.is_guaranteed(spec) is guaranteed


@pytest.mark.parametrize(
    ("annotations", "excluded"),
    [
        pytest.param({names.EXCLUDE_INBOUND_PORTS: "9000,15020"}, "15090,15021,9000,15020",
                     id="status-port-listed-once"),
        pytest.param({names.EXCLUDE_INBOUND_PORTS: "4,5,6"}, "15090,15021,4,5,6,15020",
                     id="status-port-after-the-pods-own"),
        pytest.param({names.STATUS_PORT: "123"}, "15090,15021,123", id="status-port-annotation"),
        pytest.param({names.STATUS_PORT: "0"}, "15090,15021", id="status-port-off"),
    ],
)  # fmt: skip
def test_excluded_inbound_ports_follow_istios_order(
    annotations: dict[str, str], excluded: str
) -> None:
    # Istio 1.20.8: 15090,15021, then the Pod's exclusions, then the status port.
    args = _resolve(annotations).values["init.args"]
    assert args[args.index("-d") + 1] == excluded


def test_init_arguments_default_to_capturing_everything() -> None:
    args = _resolve({}).values["init.args"]
    pairs = dict(zip(args[1:-1:2], args[2:-1:2], strict=True))
    assert pairs == {
        "-p": "15001", "-z": "15006", "-u": "1337", "-m": "REDIRECT",
        "-i": "*", "-x": "", "-b": "*", "-d": "15090,15021,15020",
    }  # fmt: skip


def test_configured_interception_defaults_are_used_and_annotations_override_them() -> None:
    settings = {"interception": {"excludeOutboundPorts": "25", "includeInboundPorts": "80"}}
    args = _resolve({names.INCLUDE_INBOUND_PORTS: "*"}, settings=settings).values["init.args"]
    assert args[args.index("-o") + 1] == "25"
    assert args[args.index("-b") + 1] == "*"


@pytest.mark.parametrize(
    ("annotation", "setting", "supported", "native", "warned"),
    [
        pytest.param(None, "auto", None, False, False, id="auto-without-cluster-is-classic"),
        pytest.param(None, "auto", True, True, False, id="auto-on-a-native-server"),
        pytest.param(None, "auto", False, False, False, id="auto-on-an-old-server"),
        pytest.param(None, "true", None, True, False, id="forced-on"),
        pytest.param("true", "false", None, True, False, id="pod-asks-native"),
        pytest.param("0", "true", None, False, False, id="pod-asks-classic"),
        pytest.param("maybe", "true", None, True, True, id="bad-annotation-falls-back"),
        # A server known to be older than 1.29 would drop the init container's
        # restartPolicy (1.28: gate off) or not know it: the proxy would never end.
        pytest.param(None, "true", False, False, True, id="forced-on-an-old-server-is-classic"),
        pytest.param("true", "auto", False, False, True, id="pod-asks-native-on-an-old-server"),
        pytest.param("true", "false", True, True, False, id="pod-asks-native-on-a-new-server"),
        pytest.param("false", "auto", False, False, False, id="pod-asks-classic-on-an-old-server"),
    ],
)
def test_native_sidecar_choice(
    annotation: str | None, setting: str, supported: bool | None, native: bool, warned: bool
) -> None:
    annotations = {} if annotation is None else {names.NATIVE_SIDECAR: annotation}
    resolved = _resolve(
        annotations, settings={"nativeSidecar": setting}, native_supported=supported
    )
    assert resolved.native is native
    assert bool(resolved.warnings) is warned
    assert all(len(warning) <= 256 for warning in resolved.warnings)


def test_pod_ports_and_app_containers_are_passed_to_the_proxy() -> None:
    spec = {
        "containers": [
            {"name": "a", "ports": [{"containerPort": 80, "name": "http"}]},
            {"name": "b", "ports": [{"containerPort": 9000, "protocol": "UDP"}]},
        ]
    }
    values = _resolve({}, spec=spec).values
    assert values["pod.appContainers"] == "a,b"
    assert values["pod.ports"] == (
        '[{"containerPort":80,"name":"http"},{"containerPort":9000,"protocol":"UDP"}]'
    )
