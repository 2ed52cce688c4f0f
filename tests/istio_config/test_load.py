"""Istio's three inputs read as settings of ours: each mapping, each warning, each error."""

from __future__ import annotations

import json
from typing import Any

import pytest

from injector.core.config import Config, Mesh
from injector.istio_config import IstioConfigError, Settings, Sources, load, stock_templates


def _values(**global_: Any) -> str:
    return json.dumps({"global": global_})


def _load(**texts: str | None) -> Settings:
    return load(Config(), Sources(**texts))  # type: ignore[arg-type]


def test_no_source_keeps_the_base_configuration_and_warns_of_nothing() -> None:
    base = Config(revision="canary")
    assert load(base, Sources()) == Settings(config=base, warnings=())


@pytest.mark.parametrize(
    ("global_", "image"),
    [
        pytest.param(
            {"hub": "reg.example/istio", "tag": "1.20.8"},
            "reg.example/istio/proxyv2:1.20.8",
            id="hub-and-tag-name-proxyv2",
        ),
        pytest.param(
            {"hub": "reg.example/istio", "tag": "1.20.8", "proxy": {"image": "proxyv2-fips"}},
            "reg.example/istio/proxyv2-fips:1.20.8",
            id="an-image-name-without-slash-joins-hub-and-tag",
        ),
        pytest.param(
            {"hub": "reg.example/istio", "tag": "x", "proxy": {"image": "other.example/p:1"}},
            "other.example/p:1",
            id="an-image-with-slash-is-taken-as-given",
        ),
        pytest.param({"proxy": {"logLevel": "warning"}}, Config().proxy.image, id="none-given"),
    ],
)
def test_the_proxy_image_is_made_as_istio_makes_it(global_: dict[str, Any], image: str) -> None:
    assert _load(values=json.dumps({"global": global_})).config.proxy.image == image


def test_an_image_a_registry_would_refuse_is_used_with_a_warning() -> None:
    settings = _load(values=_values(hub="gcr.io/t", tag="latest", proxy={"image": "proxyTest"}))
    assert settings.config.proxy.image == "gcr.io/t/proxyTest:latest"
    assert (
        "proxy image 'gcr.io/t/proxyTest:latest' is not an image reference"
        in (settings.warnings[0])
    )


def test_values_map_to_proxy_interception_and_mesh_settings() -> None:
    values = {
        "global": {
            "imagePullPolicy": "Always",
            "caAddress": "ca.example:15012",
            "multiCluster": {"clusterName": "east"},
            "proxy": {
                "clusterDomain": "corp.local",
                "holdApplicationUntilProxyStarts": True,
                "resources": {"requests": {"cpu": "200m"}, "limits": {"memory": "2Gi"}},
                "includeIPRanges": "10.0.0.0/8",
                "excludeIPRanges": "10.1.0.0/16",
                "includeInboundPorts": "80,443",
                "excludeInboundPorts": "22",
                "excludeOutboundPorts": "3306",
            },
        },
        "sidecarInjectorWebhook": {"rewriteAppHTTPProbe": False},
        "revision": "canary",
    }
    config = _load(values=json.dumps(values)).config
    assert (config.proxy.imagePullPolicy, config.revision) == ("Always", "canary")
    assert config.proxy.resources.as_dict() == {
        "requests": {"cpu": "200m"},
        "limits": {"memory": "2Gi"},
    }
    assert (config.mesh.clusterDomain, config.mesh.clusterId) == ("corp.local", "east")
    assert config.mesh.caAddress == "ca.example:15012"
    assert config.mesh.holdApplicationUntilProxyStarts is True
    assert config.mesh.rewriteAppHTTPProbers is False
    assert config.interception.includeOutboundIPRanges == "10.0.0.0/8"
    assert config.interception.excludeOutboundIPRanges == "10.1.0.0/16"
    assert config.interception.includeInboundPorts == "80,443"
    assert config.interception.excludeInboundPorts == "22"
    assert config.interception.excludeOutboundPorts == "3306"


def test_values_map_to_the_per_pod_defaults_network_and_pull_secrets() -> None:
    values = {
        "global": {
            "network": "n1",
            "mountMtlsCerts": True,
            "imagePullSecrets": ["a", {"name": "b"}],
            "logging": {"level": "default:debug"},
            "proxy": {"statusPort": 123, "readinessInitialDelaySeconds": 100,
                      "readinessPeriodSeconds": 200, "readinessFailureThreshold": 300,
                      "logLevel": "debug", "componentLogLevel": "misc:info"},
        }
    }  # fmt: skip
    settings = _load(values=json.dumps(values))
    proxy = settings.config.proxy
    assert settings.warnings == ()
    assert (proxy.statusPort, proxy.imagePullSecrets) == (123, ("a", "b"))
    assert (proxy.readiness.initialDelaySeconds, proxy.readiness.periodSeconds) == (100, 200)
    assert proxy.readiness.failureThreshold == 300
    assert (proxy.logLevel, proxy.componentLogLevel) == ("debug", "misc:info")
    assert proxy.agentLogLevel == "default:debug"
    assert settings.config.mesh.network == "n1"
    assert proxy.mountMtlsCerts is True


@pytest.mark.parametrize(
    ("global_", "revision", "address"),
    [
        pytest.param({"caAddress": ""}, "default", "", id="empty-follows-the-revision"),
        pytest.param({"istioNamespace": "mesh"}, "default", "istiod.mesh.svc:15012", id="ns"),
        pytest.param(
            {"istioNamespace": "mesh"}, "canary", "istiod-canary.mesh.svc:15012", id="rev"
        ),
    ],
)
def test_the_ca_address_follows_istio_namespace_and_revision(
    global_: dict[str, Any], revision: str, address: str
) -> None:
    text = json.dumps({"global": global_, "revision": revision})
    assert _load(values=text).config.mesh.caAddress == address


def test_istio_cni_maps_to_our_cni_settings() -> None:
    values = {"istio_cni": {"enabled": True, "chained": False}}
    settings = _load(values=json.dumps(values))
    assert (settings.config.cni.enabled, settings.config.cni.chained) == (True, False)
    assert settings.warnings == ()


def test_an_empty_cluster_name_is_istio_default_kubernetes() -> None:
    settings = _load(values=_values(multiCluster={"clusterName": ""}))
    assert settings.config.mesh.clusterId == "Kubernetes"


def test_values_at_istio_defaults_warn_of_nothing() -> None:
    values = {
        "global": {
            "hub": "docker.io/istio", "tag": "1.20.8", "imagePullSecrets": [], "network": "",
            "logging": {"level": "default:info"}, "logAsJson": False, "meshID": "",
            "proxy": {"statusPort": 15020, "enableCoreDump": False, "privileged": False,
                      "startupProbe": {"enabled": True, "failureThreshold": 600},
                      "tracer": "zipkin", "includeOutboundPorts": ""},
            "proxy_init": {"image": "proxyv2"}, "sds": {"token": {"aud": "istio-ca"}},
        },
        "istio_cni": {"enabled": False, "chained": True},
    }  # fmt: skip
    assert _load(values=json.dumps(values)).warnings == ()


@pytest.mark.parametrize(
    ("values", "warning"),
    [
        pytest.param({"global": {"meshID": "m1"}}, "global.meshID=m1 not modelled", id="mesh-id"),
        pytest.param(
            {"global": {"proxy": {"enableCoreDump": True}}},
            "global.proxy.enableCoreDump=true not modelled (an enable-core-dump init container)",
            id="core-dump",
        ),
        pytest.param({"global": {"proxy": {"tracer": "datadog"}}}, "tracer=datadog", id="datadog"),
        pytest.param(
            {"global": {"proxy_init": {"image": "reg.example/init:1"}}},
            "global.proxy_init.image=reg.example/init:1 not modelled",
            id="init-image",
        ),
    ],
)
def test_values_that_change_the_sidecar_unmodelled_are_warned(
    values: dict[str, Any], warning: str
) -> None:
    settings = load(Config(), Sources(values=json.dumps(values), values_origin="--valuesFile v"))
    assert len(settings.warnings) == 1
    assert settings.warnings[0].startswith("--valuesFile v: ")
    assert warning in settings.warnings[0]


MESH = """
trustDomain: corp.example
enablePrometheusMerge: false
rootNamespace: istio-system
defaultProviders: {metrics: [prometheus]}
defaultConfig:
  discoveryAddress: istiod.istio-system.svc:15012
  drainDuration: 23s
  proxyMetadata: {A: "1"}
  tracing: {zipkin: {address: zipkin.istio-system:9411}}
  statusPort: 15020
"""


def test_the_mesh_config_maps_trust_domain_merge_and_default_config() -> None:
    settings = _load(mesh=MESH)
    mesh = settings.config.mesh
    assert (mesh.trustDomain, mesh.enablePrometheusMerge) == ("corp.example", False)
    assert mesh.proxyConfig == {
        "discoveryAddress": "istiod.istio-system.svc:15012",
        "drainDuration": "23s",
        "proxyMetadata": {"A": "1"},
        "tracing": {"zipkin": {"address": "zipkin.istio-system:9411"}},
    }
    assert settings.warnings == ()


def test_default_config_fields_merge_over_the_base_ones() -> None:
    base = Config(mesh=Mesh(proxyConfig={"concurrency": 2}))
    merged = load(base, Sources(mesh="defaultConfig: {drainDuration: 5s}")).config
    assert merged.mesh.proxyConfig == {"concurrency": 2, "drainDuration": "5s"}


@pytest.mark.parametrize(
    ("mesh", "warning"),
    [
        pytest.param(
            "defaultConfig: {image: {imageType: distroless}}",
            "defaultConfig.image not modelled",
            id="image-type",
        ),
        pytest.param("proxyListenPort: 15002", "proxyListenPort not modelled", id="listen"),
    ],
)
def test_mesh_settings_that_change_the_sidecar_unmodelled_are_warned(
    mesh: str, warning: str
) -> None:
    settings = _load(mesh=mesh)
    assert [w for w in settings.warnings if warning in w] == list(settings.warnings)
    assert len(settings.warnings) == 1


def test_the_injector_config_maps_policy_and_selectors() -> None:
    text = """
policy: disabled
alwaysInjectSelector: [{matchLabels: {a: b}}]
neverInjectSelector: [{matchExpressions: [{key: c, operator: Exists}]}]
defaultTemplates: [sidecar]
injectedAnnotations:
template: "{{ Template_Version_And_Istio_Version_Mismatched_Check_Installation }}"
"""
    settings = _load(inject_config=text)
    assert settings.config.policy == "disabled"
    assert settings.config.alwaysInjectSelector == ({"matchLabels": {"a": "b"}},)
    assert settings.config.neverInjectSelector == (
        {"matchExpressions": [{"key": "c", "operator": "Exists"}]},
    )
    assert settings.warnings == ()


def test_injector_config_features_not_modelled_are_warned() -> None:
    text = """
defaultTemplates: [sidecar, extra]
aliases: {s: [sidecar]}
injectedAnnotations: {x.example/a: "1"}
"""
    warnings = _load(inject_config=text).warnings
    assert [w.split(" not modelled")[0] for w in warnings] == [
        "injector config: defaultTemplates sidecar, extra",
        "injector config: aliases",
        "injector config: injectedAnnotations",
    ]


def _stock_like(name: str) -> str:
    """A text with the digest of no stock template, under a stock or other name."""
    return f"metadata:\n  labels: {{{name}: x}}\n"


def test_templates_are_recognised_by_their_digest_whatever_their_indentation() -> None:
    text = "  line one\n    line two   \n\n"
    assert stock_templates.digest(text) == stock_templates.digest("\n\n  line one\n    line two\n")
    assert stock_templates.digest(text) != stock_templates.digest("line one\n  line two\n")


@pytest.mark.parametrize(
    ("name", "warning"),
    [
        pytest.param(
            "sidecar",
            "template 'sidecar' differs from Istio 1.20.8's stock one; this injector renders "
            "its own 'sidecar'",
            id="changed-sidecar",
        ),
        pytest.param(
            "waypoint",
            "template 'waypoint' differs from Istio 1.20.8's stock one; this injector has no "
            "template of that name and refuses 'waypoint'",
            id="changed-stock-we-lack",
        ),
        pytest.param(
            "custom",
            "template 'custom' is not one of Istio 1.20.8's; this injector cannot run Go "
            "templates and refuses Pods that select it",
            id="custom",
        ),
    ],
)
def test_a_template_other_than_the_stock_one_is_warned(name: str, warning: str) -> None:
    text = "templates:\n  " + name + ": |\n    metadata: {}\n"
    warnings = _load(inject_config=text).warnings
    assert len(warnings) == 1
    assert warning in warnings[0]


def test_a_stock_template_is_not_warned(monkeypatch: pytest.MonkeyPatch) -> None:
    # A stand-in digest proves the comparison; the real texts' digests are checked
    # against Istio's own test data by the corpus tool (tools/istio_corpus.py).
    digest = stock_templates.digest("a: b\n")
    monkeypatch.setitem(stock_templates.STOCK_DIGESTS, "stand-in", digest)
    assert _load(inject_config="templates:\n  stand-in: |\n      a: b\n").warnings == ()


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        pytest.param(
            Sources(mesh="a: [", mesh_origin="--meshConfigFile m.yaml"),
            "--meshConfigFile m.yaml: not valid YAML",
            id="not-yaml",
        ),
        pytest.param(
            Sources(values="[1, 2]", values_origin="--valuesFile v.json"),
            "--valuesFile v.json: must be a mapping (YAML or JSON), got a list",
            id="not-a-mapping",
        ),
        pytest.param(
            Sources(values=_values(proxy={"statusPort": "high"})),
            "values: key global.proxy.statusPort: must be a whole number, got 'high'",
            id="status-port-not-a-number",
        ),
        pytest.param(
            Sources(values=_values(proxy={"statusPort": 70000})),
            "values: key global.proxy.statusPort: must be a whole number from 0 to 65535",
            id="status-port-too-high",
        ),
        pytest.param(
            Sources(values=_values(logging={"level": "default:loud"})),
            "values: key global.logging.level: ",
            id="bad-agent-level",
        ),
        pytest.param(
            Sources(values=_values(imagePullSecrets=[{"nom": "x"}])),
            "values: key global.imagePullSecrets: must be a list of secret names",
            id="bad-pull-secret",
        ),
        pytest.param(
            Sources(values=_values(proxy={"enableCoreDump": "maybe"})),
            "values: key global.proxy.enableCoreDump: must be true or false, got 'maybe'",
            id="unmodelled-key-of-the-wrong-type",
        ),
        pytest.param(
            Sources(values=_values(proxy={"includeIPRanges": "10.0.0.0/33"})),
            "values: key global.proxy.includeIPRanges: ",
            id="bad-cidr",
        ),
        pytest.param(
            Sources(values=_values(proxy={"resources": {"limits": {"cpu": "lots"}}})),
            "values: key global.proxy.resources.limits.cpu: ",
            id="bad-quantity",
        ),
        pytest.param(
            Sources(values=_values(imagePullPolicy="Sometimes")),
            "values: key global.imagePullPolicy: must be Always, IfNotPresent, Never or empty",
            id="bad-pull-policy",
        ),
        pytest.param(
            Sources(values=_values(proxy={"holdApplicationUntilProxyStarts": "yes"})),
            "values: key global.proxy.holdApplicationUntilProxyStarts: must be true or false, "
            "got 'yes'",
            id="bad-bool",
        ),
        pytest.param(
            Sources(values=_values(tag="latest")),
            "values: key global.hub: needed to name the proxy image",
            id="tag-without-hub",
        ),
        pytest.param(
            Sources(values=json.dumps({"revision": "Canary"})),
            "values: key revision: revision: 'Canary' must be a lowercase DNS label",
            id="bad-revision",
        ),
        pytest.param(
            Sources(mesh="trustDomain: [a]"),
            "mesh config: key trustDomain: must be a string, got a list",
            id="mesh-wrong-type",
        ),
        pytest.param(
            Sources(mesh="trustDomain: My_Cluster.local"),
            "mesh config: key trustDomain: 'My_Cluster.local' is not a trust domain",
            id="bad-trust-domain",
        ),
        pytest.param(
            Sources(mesh="defaultConfig: {drainDuration: soon}"),
            "mesh config: key defaultConfig.drainDuration: must be a duration",
            id="bad-duration",
        ),
        pytest.param(
            Sources(inject_config="policy: sometimes"),
            "injector config: key policy: must be enabled or disabled",
            id="bad-policy",
        ),
        pytest.param(
            Sources(inject_config="neverInjectSelector: [{matchLabels: [a]}]"),
            "injector config: key neverInjectSelector[0]: matchLabels must map",
            id="bad-selector",
        ),
        pytest.param(
            Sources(inject_config="templates: {sidecar: [a]}"),
            "injector config: key templates.sidecar: must be a string, got a list",
            id="template-not-text",
        ),
    ],
)
def test_bad_input_names_the_source_and_the_key(sources: Sources, message: str) -> None:
    with pytest.raises(IstioConfigError) as caught:
        load(Config(), sources)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
