"""A cluster in the fake API where our injector is installed and healthy, for `doctor`.

Our webhook configuration as the manifest registers it, with the CA bundle of the
material in our Secret; the Lease held and just renewed; a namespace labelled for us;
Istio's two ConfigMaps in istio-system; two running replicas whose /metrics (through
the API server's Pod proxy) report the ConfigMaps' current versions.
"""

from __future__ import annotations

import datetime
from typing import Any

from injector.certs import authority, cluster_store, issuing, leader
from injector.cluster import registration
from injector.core.config import Config
from support.fake_kube import FakeApi

NS = "sidecar-injector"
WEBHOOKS = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
NAMESPACES = "/api/v1/namespaces"
ISTIO_CONFIGMAPS = "/api/v1/namespaces/istio-system/configmaps"
REPLICAS = ("sidecar-injector-7d9-a", "sidecar-injector-7d9-b")
MESH = (
    "trustDomain: cluster.local\n"
    "defaultConfig:\n  discoveryAddress: istiod.istio-system.svc:15012\n"
)
VALUES = '{"global": {"hub": "docker.io/istio", "tag": "1.20.8"}}'
INJECT_CONFIG = "policy: enabled\nalwaysInjectSelector: []\nneverInjectSelector: []\n"


def namespace(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name, **labels}}}


def material(now: datetime.datetime, service: str = "sidecar-injector") -> Any:
    names = tuple(issuing.service_names(service, NS))
    return authority.advance(
        None, authority.Step.START, now=now, settings=authority.Settings(dns_names=names)
    )


def metrics(mesh_version: str, injector_version: str, healthy: int = 1) -> str:
    return (
        "# HELP sidecar_injector_settings_info The settings version in use.\n"
        "# TYPE sidecar_injector_settings_info gauge\n"
        f'sidecar_injector_settings_info{{source="file",version="0123456789ab"}} 1.0\n'
        f'sidecar_injector_settings_info{{source="istio-mesh",version="{mesh_version}"}} 1.0\n'
        "sidecar_injector_settings_info"
        f'{{source="istio-injector",version="{injector_version}"}} 1.0\n'
        f'sidecar_injector_settings_healthy{{source="istio-mesh"}} {healthy}.0\n'
        'sidecar_injector_settings_healthy{source="istio-injector"} 1.0\n'
    )


def proxy_path(pod: str) -> str:
    return f"/api/v1/namespaces/{NS}/pods/https:{pod}:9443/proxy/metrics"


def replica(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": NS,
                     "labels": {"app.kubernetes.io/name": "sidecar-injector"}},
        "spec": {"containers": [{"name": "sidecar-injector",
                                 "ports": [{"name": "https-webhook", "containerPort": 9443}]}]},
        "status": {"phase": "Running"},
    }  # fmt: skip


def report_current(api: FakeApi) -> None:
    """Every replica's /metrics report the ConfigMaps as they are now."""
    cms = api.objects[ISTIO_CONFIGMAPS]
    text = metrics(
        cms["istio"]["metadata"]["resourceVersion"],
        cms["istio-sidecar-injector"]["metadata"]["resourceVersion"],
    )
    for pod in REPLICAS:
        api.proxied[proxy_path(pod)] = text


def healthy(api: FakeApi, now: datetime.datetime, config: Config | None = None) -> None:
    """Install our injector, healthy, into `api`."""
    cfg = config or Config()
    issued = material(now)
    api.put(WEBHOOKS, registration.webhook_configuration(
        namespace=NS, service="sidecar-injector", url=None, ca_bundle_pem=issued.bundle_pem,
        revision=cfg.revision, tags=cfg.tags,
    ))  # fmt: skip
    secret = cluster_store.secret_for(issued, name=cfg.certificates.secretName, namespace=NS,
                                      version=None)  # fmt: skip
    api.put(f"{NAMESPACES}/{NS}/secrets", secret)
    lease = {"metadata": {"name": cfg.certificates.leaseName, "namespace": NS},
             "spec": {"holderIdentity": REPLICAS[0], "leaseDurationSeconds": 15,
                      "renewTime": leader.micro_time(now)}}  # fmt: skip
    api.put(f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases", lease)
    for ns in (
        namespace("kube-system"),
        namespace(NS),
        namespace("istio-system"),
        namespace("shop", **{"istio-injection": "enabled"}),
    ):
        api.put(NAMESPACES, ns)
    api.put(ISTIO_CONFIGMAPS, {"metadata": {"name": "istio", "namespace": "istio-system"},
                               "data": {"mesh": MESH}})  # fmt: skip
    api.put(ISTIO_CONFIGMAPS, {
        "metadata": {"name": "istio-sidecar-injector", "namespace": "istio-system"},
        "data": {"values": VALUES, "config": INJECT_CONFIG},
    })  # fmt: skip
    for pod in REPLICAS:
        api.put(f"{NAMESPACES}/{NS}/pods", replica(pod))
    report_current(api)
