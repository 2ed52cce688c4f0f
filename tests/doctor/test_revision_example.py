"""The revision example of docs/beside-istiod.md (examples/revision/): kustomize builds
exactly the webhook configuration the injector renders for that revision, with the
example's configuration file in the ConfigMap; and beside istiod's webhooks as the
1.20.8 chart registers them, nothing of istiod's reaches its Pods."""

from __future__ import annotations

import base64
from pathlib import Path

import yaml
from support import istio_chart
from support.kustomize import MANIFESTS, build, built_kind

from injector.cluster import registration
from injector.core import config_file
from injector.doctor import webhook_order

EXAMPLE = MANIFESTS.parent / "examples" / "revision"
PEM = b"-----BEGIN CERTIFICATE-----\n"


def test_the_example_builds_the_webhooks_the_injector_renders_for_its_revision() -> None:
    cfg = config_file.load(EXAMPLE / "config.yaml")
    built = built_kind(build(EXAMPLE), "MutatingWebhookConfiguration")
    del built["metadata"]["labels"]
    rendered = registration.webhook_configuration(
        namespace=cfg.injectorNamespace,
        service=cfg.certificates.service,
        url=None,
        ca_bundle_pem=PEM,
        revision=cfg.revision,
        tags=cfg.tags,
    )
    for hook in built["webhooks"]:
        hook["clientConfig"]["caBundle"] = base64.b64encode(PEM).decode()
    assert cfg.revision == "injector"
    assert built == rendered


def test_the_examples_configmap_carries_the_examples_configuration() -> None:
    configmap = built_kind(build(EXAMPLE), "ConfigMap")
    assert configmap["metadata"]["name"] == "sidecar-injector-config"
    text = configmap["data"]["config.yaml"]
    assert text == (EXAMPLE / "config.yaml").read_text(encoding="utf-8")
    assert yaml.safe_load(text)["mesh"]["caAddress"] == "istiod.istio-system.svc:15012"


def test_istiods_webhooks_share_no_pods_with_the_examples_revision(tmp_path: Path) -> None:
    ours = built_kind(build(EXAMPLE), "MutatingWebhookConfiguration")
    namespaces = {
        "shop": {"istio.io/rev": "injector"},
        "legacy": {"istio-injection": "enabled"},
        "plain": {},
    }
    found = webhook_order.overlaps(
        [ours, istio_chart.sidecar_injector(), istio_chart.revision_tag_default()],
        ours["metadata"]["name"],
        namespaces,
    )
    assert found == []
