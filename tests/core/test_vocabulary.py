"""Istio's proxy annotations: each value parsed strictly, each bad one refused by name."""

from __future__ import annotations

from typing import Any

import jsonpatch
import pytest

from injector.core import config_file, names, overrides, template, vocabulary
from injector.core.config import DEFAULT_TEMPLATES, Config
from injector.core.engine import Engine

SPEC: dict[str, Any] = {"containers": [{"name": "app", "image": "app"}]}


def _values(annotations: dict[str, str], config: Config | None = None) -> dict[str, Any]:
    """The placeholder values the annotations' settings give (none of the Pod's own)."""
    config = config or config_file.from_mapping({})
    shared = overrides.settings(annotations, config, guaranteed=False)
    return overrides.shared_values(shared, config)


def _args(values: dict[str, Any], flag: str) -> str | None:
    args = values["init.args"]
    return args[args.index(flag) + 1] if flag in args else None


@pytest.mark.parametrize(
    ("key", "text"),
    [
        pytest.param(names.PROXY_IMAGE, "Bad Image", id="image-with-space"),
        pytest.param(names.PROXY_IMAGE, "repo/proxy:1\n", id="image-trailing-newline"),
        pytest.param(names.PROXY_IMAGE, "repo//proxy", id="image-empty-component"),
        pytest.param(names.LOG_LEVEL, "verbose", id="log-level-unknown"),
        pytest.param(names.LOG_LEVEL, "debug\n", id="log-level-newline"),
        pytest.param(names.COMPONENT_LOG_LEVEL, "misc", id="component-without-level"),
        pytest.param(names.COMPONENT_LOG_LEVEL, "misc:error,", id="component-trailing-comma"),
        pytest.param(names.AGENT_LOG_LEVEL, "default:loud", id="agent-level-unknown"),
        pytest.param(names.INTERCEPTION_MODE, "redirect", id="mode-lowercase"),
        pytest.param(names.INTERCEPTION_MODE, "none", id="mode-none-lowercase"),
        pytest.param(names.STATUS_PORT, "65536", id="status-port-too-big"),
        pytest.param(names.STATUS_PORT, " 123", id="status-port-space"),
        pytest.param(names.STATUS_PORT, "１２３", id="status-port-full-width"),
        pytest.param(names.READINESS_PERIOD, "0", id="period-zero"),
        pytest.param(names.READINESS_FAILURE_THRESHOLD, "-1", id="threshold-negative"),
        pytest.param(names.READINESS_INITIAL_DELAY, "4294967296", id="delay-too-big"),
        pytest.param(names.READINESS_APPLICATION_PORTS, "80,x", id="application-ports-bad"),
        pytest.param(names.BOOTSTRAP_OVERRIDE, "My_Config", id="bootstrap-not-a-name"),
        pytest.param(names.KUBEVIRT_INTERFACES, "net1,bad iface", id="kubevirt-bad-interface"),
        pytest.param(names.INCLUDE_OUTBOUND_PORTS, "80,x", id="include-outbound-ports-bad"),
        pytest.param(names.USER_VOLUME, "{", id="user-volume-not-json"),
        pytest.param(names.USER_VOLUME_MOUNT, '{"v":{"mountPath":"rel"}}', id="mount-relative"),
    ],
)
def test_a_bad_value_is_refused_with_the_annotations_name(key: str, text: str) -> None:
    with pytest.raises(overrides.Refused) as refused:
        _values({key: text})
    assert len(refused.value.problems) == 1
    assert key in refused.value.problems[0]


def test_log_levels_become_proxy_and_init_arguments() -> None:
    values = _values(
        {
            names.LOG_LEVEL: "debug",
            names.COMPONENT_LOG_LEVEL: "misc:error,upstream:trace",
            names.AGENT_LOG_LEVEL: "default:debug,ads:info",
        }
    )
    assert values["proxy.logLevel"] == "debug"
    assert values["proxy.componentLogLevel"] == "misc:error,upstream:trace"
    assert values["proxy.agentLogLevel"] == "default:debug,ads:info"
    assert values["init.args"][-1] == "--log_output_level=default:debug,ads:info"


def test_defaults_are_istios() -> None:
    values = _values({})
    assert (values["proxy.logLevel"], values["proxy.componentLogLevel"]) == (
        "warning",
        "misc:error",
    )
    assert values["proxy.interceptionMode"] == "REDIRECT"
    assert values["proxy.statusPort"] == 15020
    assert values["proxy.readinessProbe"]["periodSeconds"] == 15
    assert "initialDelaySeconds" not in values["proxy.readinessProbe"]
    assert values["proxy.startupProbe"]["failureThreshold"] == 600
    assert _args(values, "-m") == "REDIRECT"
    assert [_args(values, flag) for flag in ("-q", "-k")] == [None, None]


def test_tproxy_runs_the_proxy_as_root_with_net_admin_and_tells_the_init_container() -> None:
    values = _values({names.INTERCEPTION_MODE: "TPROXY"})
    security = values["proxy.securityContext"]
    assert security["capabilities"] == {"add": ["NET_ADMIN"], "drop": ["ALL"]}
    assert (security["runAsUser"], security["runAsNonRoot"], security["runAsGroup"]) == (
        0,
        False,
        1337,
    )
    assert values["proxy.interceptionMode"] == "TPROXY"
    assert _args(values, "-m") == "TPROXY"


def test_status_port_zero_removes_the_proxys_probes_and_its_exclusion() -> None:
    values = _values({names.STATUS_PORT: "0"})
    assert values["proxy.statusPort"] == 0
    assert values["proxy.readinessProbe"] is None
    assert values["proxy.startupProbe"] is None
    assert _args(values, "-d") == "15090,15021"


def test_readiness_annotations_shape_the_proxys_readiness_probe_only() -> None:
    values = _values(
        {
            names.READINESS_INITIAL_DELAY: "100",
            names.READINESS_PERIOD: "200",
            names.READINESS_FAILURE_THRESHOLD: "300",
            names.READINESS_APPLICATION_PORTS: "1,2,3",
        }
    )
    probe = values["proxy.readinessProbe"]
    assert (probe["initialDelaySeconds"], probe["periodSeconds"], probe["failureThreshold"]) == (
        100,
        200,
        300,
    )
    assert values["proxy.startupProbe"]["periodSeconds"] == 1


@pytest.mark.parametrize(
    ("image", "used"),
    [
        pytest.param("registry.example:5000/mesh/proxyv2:1.20.8", True, id="repository"),
        pytest.param("proxyv2:custom", False, id="no-slash-ignored-like-istio"),
    ],
)
def test_proxy_image_is_used_when_it_names_a_repository(image: str, used: bool) -> None:
    values = _values({names.PROXY_IMAGE: image})
    assert (values["proxy.image"] == image) is used


def test_extra_interception_keys_become_init_arguments_when_present() -> None:
    values = _values(
        {names.KUBEVIRT_INTERFACES: "net1,net2", names.INCLUDE_OUTBOUND_PORTS: "443,8443"}
    )
    assert _args(values, "-k") == "net1,net2"
    assert _args(values, "-q") == "443,8443"


def test_ip_ranges_are_passed_as_written_once_valid() -> None:
    values = _values({names.INCLUDE_OUTBOUND_IP_RANGES: "127.0.0.1/24, 10.96.0.1/24"})
    assert _args(values, "-i") == "127.0.0.1/24,10.96.0.1/24"


def test_bootstrap_override_adds_env_mount_and_configmap_volume() -> None:
    values = _values({names.BOOTSTRAP_OVERRIDE: "my-bootstrap"})
    assert values["proxy.bootstrapEnv"] == [
        {"name": "ISTIO_BOOTSTRAP_OVERRIDE", "value": vocabulary.BOOTSTRAP_FILE}
    ]
    assert values["pod.bootstrapVolume"] == [
        {"name": "custom-bootstrap-volume", "configMap": {"name": "my-bootstrap"}}
    ]
    assert values["proxy.bootstrapMount"][0]["mountPath"] == "/etc/istio/custom-bootstrap"


def test_ca_address_follows_the_revision() -> None:
    config = config_file.from_mapping({"revision": "canary"})
    assert _values({}, config)["mesh.caAddress"] == "istiod-canary.istio-system.svc:15012"
    assert _values({})["mesh.caAddress"] == "istiod.istio-system.svc:15012"


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        pytest.param({"volumes": [{"name": "uv"}]}, "already exists", id="pod-has-it"),
        pytest.param({}, "names no volume", id="mount-of-nothing"),
    ],
)
def test_user_volume_names_are_checked_against_the_pod(spec: dict[str, Any], problem: str) -> None:
    values = {
        "pod.userVolumes": [{"name": "uv", "emptyDir": {}}],
        "proxy.userMounts": [{"name": "uv" if "volumes" in spec else "other", "mountPath": "/x"}],
    }
    problems = vocabulary.collisions(values, spec, frozenset({"istio-data"}))
    assert len(problems) == 1
    assert problem in problems[0]


@pytest.mark.parametrize(
    ("annotations", "problem"),
    [
        pytest.param({names.USER_VOLUME: '{"custom-bootstrap-volume":{"emptyDir":{}}}',
                      names.BOOTSTRAP_OVERRIDE: "cm"}, "defined twice", id="volume-name-twice"),
        pytest.param({names.USER_VOLUME_MOUNT: '{"istio-data":{"mountPath":"/etc/istio/proxy"}}'},
                     "mount path /etc/istio/proxy is used twice", id="mount-path-twice"),
        pytest.param({names.USER_VOLUME: '{"istio-envoy":{"emptyDir":{}}}'}, "already exists",
                     id="volume-named-like-an-injected-one"),
        pytest.param({names.USER_VOLUME_MOUNT: '{"nowhere":{"mountPath":"/x"}}'},
                     "names no volume", id="mount-of-no-volume"),
    ],
)  # fmt: skip
def test_a_pod_kubernetes_would_refuse_is_denied_naming_the_annotation(
    engine: Engine, annotations: dict[str, str], problem: str
) -> None:
    pod = {"metadata": {"annotations": annotations}, "spec": SPEC}
    outcome = engine.inject(pod, namespace="shop", ns=None)
    assert outcome.result == "denied"
    assert problem in (outcome.message or "")


def _injected(annotations: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    engine = Engine(config_file.from_mapping({}), template.load(DEFAULT_TEMPLATES))
    pod = {"metadata": {"name": "p", "annotations": annotations}, "spec": SPEC}
    outcome = engine.inject(pod, namespace="shop", ns=None)
    assert outcome.result == "injected", outcome.message
    return jsonpatch.apply_patch(pod, outcome.ops or []), outcome.warnings


@pytest.mark.parametrize(
    ("annotations", "warned"),
    [
        pytest.param({names.ENABLE_CORE_DUMP: "true"}, [names.ENABLE_CORE_DUMP], id="core-dump"),
        pytest.param({names.CAP_NET_BIND_SERVICE: "true"}, [names.CAP_NET_BIND_SERVICE],
                     id="net-bind-service"),
        pytest.param({names.ENABLE_CORE_DUMP: "true", names.CAP_NET_BIND_SERVICE: "true"},
                     [names.ENABLE_CORE_DUMP, names.CAP_NET_BIND_SERVICE], id="both"),
        # Istio 1.20.8 acts on the exact value "true" only: nothing else asks for it.
        pytest.param({names.ENABLE_CORE_DUMP: "false"}, [], id="core-dump-false"),
        pytest.param({names.ENABLE_CORE_DUMP: "True"}, [], id="core-dump-not-exactly-true"),
        pytest.param({}, [], id="absent"),
    ],
)  # fmt: skip
def test_a_declined_privilege_annotation_is_admitted_without_it_and_warned_by_name(
    annotations: dict[str, str], warned: list[str]
) -> None:
    pod, warnings = _injected(annotations)
    assert [w for w in warnings if "ignored:" in w] == [
        f"annotation {key}=true ignored: {vocabulary.DECLINED[key]}" for key in warned
    ]
    assert all(len(w) <= 120 for w in warnings)
    spec = pod["spec"]
    assert [c["name"] for c in spec["initContainers"]] == ["istio-init"]
    contexts = [c["securityContext"] for c in [*spec["initContainers"], *spec["containers"]]
                if c["name"] != "app"]  # fmt: skip
    assert not any(c.get("privileged") for c in contexts)
    proxy = next(c for c in spec["containers"] if c["name"] == "istio-proxy")["securityContext"]
    assert (proxy["runAsUser"], proxy["readOnlyRootFilesystem"]) == (1337, True)
    assert "add" not in proxy["capabilities"]
