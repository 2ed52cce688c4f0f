"""Istio's CNI plugin: the annotations it reads and the validation init container."""

from __future__ import annotations

import copy
import dataclasses

import jsonpatch
import pytest

from injector.core import cni, config, names, policy, template
from injector.core.engine import Engine
from injector.planning import pod_security


@pytest.mark.parametrize(
    ("existing", "result"),
    [
        pytest.param("", "default/istio-cni", id="none"),
        pytest.param("alt_cni", "alt_cni, default/istio-cni", id="flat"),
        pytest.param("alt_cni, default/istio-cni", "alt_cni, default/istio-cni", id="flat-has-it"),
        pytest.param('[{"name": "alt_cni"}]',
                     '[{"name": "alt_cni"}, {"name": "default/istio-cni"}]', id="json"),
        pytest.param('[{"name": "default/istio-cni"}]', '[{"name": "default/istio-cni"}]',
                     id="json-has-it"),
        pytest.param('[{"name": ]', '[{"name": ]', id="broken-json-kept"),
    ],
)  # fmt: skip
def test_the_plugin_is_appended_to_the_pods_networks_in_their_form(
    existing: str, result: str
) -> None:
    assert cni.append_network(existing) == result


ARGS = ["istio-iptables", "-p", "15001", "-z", "15006", "-u", "1337", "-m", "TPROXY",
        "-i", "*", "-x", "", "-b", "80", "-d", "15090,15021,15020", "-k", "eth1",
        "--log_output_level=default:info"]  # fmt: skip


def test_the_redirect_arguments_become_the_annotations_the_plugin_reads() -> None:
    assert cni.pod_annotations({}, ARGS, chained=True) == {
        "sidecar.istio.io/interceptionMode": "TPROXY",
        "traffic.sidecar.istio.io/includeOutboundIPRanges": "*",
        "traffic.sidecar.istio.io/includeInboundPorts": "80",
        "traffic.sidecar.istio.io/excludeInboundPorts": "15020",
        "traffic.sidecar.istio.io/kubevirtInterfaces": "eth1",
    }


def test_not_chained_the_pod_also_asks_for_the_plugin() -> None:
    found = cni.pod_annotations({names.MULTUS_NETWORKS: "a"}, ARGS, chained=False)
    assert found[names.MULTUS_NETWORKS] == "a, default/istio-cni"


def test_the_init_container_only_validates_unprivileged() -> None:
    init = {
        "name": "istio-init",
        "args": ["istio-iptables"],
        "securityContext": {"privileged": True},
    }
    validation = cni.validation(init, 1337)
    assert validation["name"] == "istio-validation"
    assert validation["args"] == ["istio-iptables", "--run-validation", "--skip-rule-apply"]
    assert validation["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert validation["securityContext"]["runAsUser"] == 1337
    assert validation["securityContext"]["runAsNonRoot"] is True
    assert init["name"] == "istio-init"


def _cni_engine(enabled: bool) -> Engine:
    cfg = dataclasses.replace(config.Config(), cni=config.Cni(enabled=enabled))
    return Engine(cfg, template.load(cfg.templates))


RESTRICTED_POD = {
    "metadata": {"name": "p"},
    "spec": {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "app",
                "image": "app",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
    },
}


@pytest.mark.parametrize("level", ["baseline", "restricted"])
def test_with_the_plugin_a_pod_security_level_no_longer_stops_injection(level: str) -> None:
    """The plugin redirects the traffic, so nothing injected asks for NET_ADMIN/NET_RAW:
    Istio's way to inject under baseline and restricted. Without it the webhook skips."""
    ns = policy.Namespace("shop", {"istio-injection": "enabled", names.PSA_ENFORCE: level})
    plain = _cni_engine(False).inject(copy.deepcopy(RESTRICTED_POD), namespace="shop", ns=ns)
    assert (plain.result, plain.reasons) == ("skipped", [policy.POD_SECURITY_LEVEL])
    engine = _cni_engine(True)
    outcome = engine.inject(copy.deepcopy(RESTRICTED_POD), namespace="shop", ns=ns)
    assert outcome.result == "injected", outcome.reasons
    pod = jsonpatch.apply_patch(RESTRICTED_POD, outcome.ops or [])
    assert [c["name"] for c in pod["spec"]["initContainers"]] == ["istio-validation"]
    assert pod_security.judge(pod, level) == []
