"""Istio's CNI plugin: the annotations it reads and the validation init container."""

from __future__ import annotations

import pytest

from injector.core import cni, names


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
