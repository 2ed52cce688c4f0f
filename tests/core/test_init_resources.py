"""`istio-init` gets the proxy's own resources, as Istio 1.20.8's template renders one
`resources` block for both containers (the Pod's resource annotations included);
`proxy.initResources` overrides them when set."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from injector.core import config_file, template, workloads
from injector.core.engine import Engine


def _containers(config: dict[str, Any], annotations: dict[str, str]) -> dict[str, Any]:
    cfg = config_file.from_mapping(config)
    engine = Engine(cfg, template.load(cfg.templates))
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "a", "annotations": annotations},
        "spec": {"containers": [{"name": "app", "image": "app"}]},
    }
    out, _reports = workloads.inject_text(yaml.safe_dump(pod), engine)
    spec = yaml.safe_load(out)["spec"]
    return {c["name"]: c.get("resources") for c in spec["initContainers"] + spec["containers"]}


def _resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> dict[str, Any]:
    return {
        "requests": {"cpu": cpu, "memory": memory},
        "limits": {"cpu": cpu_limit, "memory": memory_limit},
    }


ISTIO_DEFAULT = _resources("100m", "128Mi", "2000m", "1024Mi")


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        pytest.param({}, ISTIO_DEFAULT, id="the-proxy-defaults"),
        pytest.param(
            {"sidecar.istio.io/proxyCPU": "300m", "sidecar.istio.io/proxyMemoryLimit": "2Gi"},
            _resources("300m", "128Mi", "2000m", "2Gi"),
            id="the-pods-resource-annotations",
        ),
    ],
)  # fmt: skip
def test_istio_init_gets_the_proxys_own_resources(
    annotations: dict[str, str], expected: dict[str, Any]
) -> None:
    resources = _containers({}, annotations)
    assert resources["istio-proxy"] == expected
    assert resources["istio-init"] == expected


def test_init_resources_override_the_proxys_when_set() -> None:
    small = _resources("10m", "40Mi", "100m", "64Mi")
    resources = _containers(
        {"proxy": {"initResources": small}}, {"sidecar.istio.io/proxyCPU": "300m"}
    )
    assert resources["istio-init"] == small
    assert resources["istio-proxy"]["requests"]["cpu"] == "300m"
