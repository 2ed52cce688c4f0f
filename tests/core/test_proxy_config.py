"""proxy.istio.io/config: strict validation, and PROXY_CONFIG as Istio 1.20.8 writes it."""

from __future__ import annotations

from typing import Any

import jsonpatch
import pytest

from injector.core import config, config_file, proxy_config, template
from injector.core.config import ConfigError
from injector.core.engine import Engine


@pytest.mark.parametrize(
    ("text", "value", "hold"),
    [
        pytest.param("", "{}\n", False, id="empty"),
        pytest.param("terminationDrainDuration: 5s\ndrainDuration: 45s", "{}\n", False,
                     id="defaults-left-out"),
        pytest.param('{"holdApplicationUntilProxyStarts": false}',
                     '{"holdApplicationUntilProxyStarts":false}\n', False, id="json-false-kept"),
        pytest.param("holdApplicationUntilProxyStarts: true\nconcurrency: 0\n"
                     "terminationDrainDuration: 1.5s",
                     '{"concurrency":0,"terminationDrainDuration":"1.500s",'
                     '"holdApplicationUntilProxyStarts":true}\n', True, id="proto-field-order"),
        pytest.param("proxyMetadata: {B: '1', A: '2'}\n"
                     "proxyStatsMatcher: {inclusionRegexps: ['.*']}",
                     '{"proxyMetadata":{"A":"2","B":"1"},"proxyStatsMatcher":{"inclusionRegexps":[".*"]}}\n',
                     False, id="metadata-sorted"),
        pytest.param("tracing: {}\nproxyMetadata: {A: '1'}\nconcurrency: 2",
                     '{"concurrency":2,"tracing":{},"proxyMetadata":{"A":"1"}}\n', False,
                     id="tracing-off-in-field-order"),
        pytest.param("tracing: {zipkin: {address: zipkin.istio-system:9411}}", "{}\n", False,
                     id="default-tracing-left-out"),
    ],
)  # fmt: skip
def test_proxy_config_is_written_as_istio_writes_it(text: str, value: str, hold: bool) -> None:
    found = proxy_config.effective(text)
    assert (found.env_value, found.hold) == (value, hold)


def test_proxy_metadata_becomes_sorted_env() -> None:
    found = proxy_config.effective("proxyMetadata: {B: x, A: y}")
    assert found.metadata_env() == [{"name": "A", "value": "y"}, {"name": "B", "value": "x"}]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        pytest.param("holdApplicationUntilProxyStart: true", "unknown", id="unknown-field"),
        pytest.param("concurrency: two", "concurrency", id="wrong-type"),
        pytest.param("holdApplicationUntilProxyStarts: 'true'", "true or false", id="string-bool"),
        pytest.param("terminationDrainDuration: 1m", "duration", id="not-seconds"),
        pytest.param("proxyMetadata: {A: 1}", "string values", id="metadata-not-strings"),
        pytest.param("proxyStatsMatcher: {inclusion: [a]}", "unknown field", id="matcher-unknown"),
        pytest.param("tracing: {zipkin: on}", "tracer", id="tracing-not-settings"),
        pytest.param("[1, 2]", "object", id="not-an-object"),
        pytest.param("{", "YAML", id="not-yaml"),
        pytest.param(
            "interceptionMode: TPROXY",
            "sidecar.istio.io/interceptionMode",
            id="interception-mode-has-its-own-annotation",
        ),
    ],
)
def test_a_bad_proxy_config_is_refused_naming_the_annotation(text: str, says: str) -> None:
    found, problem = proxy_config.problem({"proxy.istio.io/config": text})
    assert found == proxy_config.DEFAULT
    assert problem is not None and problem.startswith("annotation proxy.istio.io/config: ")
    assert says in problem


def test_the_annotation_is_merged_over_the_mesh_defaults() -> None:
    mesh = '{"concurrency": 4, "proxyMetadata": {"A": "mesh", "B": "mesh"}}'
    found = proxy_config.effective("proxyMetadata: {B: pod}\nterminationDrainDuration: 9s", mesh)
    assert found.env_value == (
        '{"concurrency":4,"proxyMetadata":{"A":"mesh","B":"pod"},"terminationDrainDuration":"9s"}\n'
    )
    assert proxy_config.effective(None, mesh).metadata == (("A", "mesh"), ("B", "mesh"))


@pytest.mark.parametrize(
    ("proxy_config_setting", "says"),
    [
        pytest.param({"concurrency": "two"}, "field concurrency", id="wrong-type"),
        pytest.param({"interceptionMode": "OFF"}, "field interceptionMode must be REDIRECT",
                     id="interception-unknown"),
        pytest.param({"interceptionMode": "tproxy"}, "field interceptionMode must be REDIRECT",
                     id="interception-lowercase"),
    ],
)  # fmt: skip
def test_a_bad_mesh_proxy_config_is_refused_at_load_naming_the_key(
    proxy_config_setting: dict[str, Any], says: str
) -> None:
    with pytest.raises(ConfigError, match=rf"mesh\.proxyConfig: {says}"):
        config_file.from_mapping({"mesh": {"proxyConfig": proxy_config_setting}})


def _proxy_env(settings: dict[str, Any], annotations: dict[str, str]) -> dict[str, str]:
    engine = Engine(config_file.from_mapping(settings), template.load(config.DEFAULT_TEMPLATES))
    pod = {
        "metadata": {"name": "p", "annotations": annotations},
        "spec": {"containers": [{"name": "app", "image": "app"}]},
    }
    outcome = engine.inject(pod, namespace="shop", ns=None)
    assert outcome.result == "injected", outcome.message
    spec = jsonpatch.apply_patch(pod, outcome.ops or [])["spec"]
    proxy = next(c for c in spec["containers"] if c["name"] == "istio-proxy")
    return {e["name"]: e.get("value", "") for e in proxy["env"]}


CANARY = "istiod-canary.istio-system.svc:15012"


@pytest.mark.parametrize(
    ("settings", "annotations", "proxy_config_env", "ca_addr"),
    [
        pytest.param({}, {}, "{}\n", "istiod.istio-system.svc:15012", id="default-revision"),
        pytest.param({"revision": "canary"}, {}, f'{{"discoveryAddress":"{CANARY}"}}\n', CANARY,
                     id="revision-names-its-istiod"),
        pytest.param({"revision": "canary", "mesh": {"caAddress": "ca.example:15012"}}, {},
                     f'{{"discoveryAddress":"{CANARY}"}}\n', "ca.example:15012",
                     id="configured-ca-leaves-discovery-address"),
        pytest.param({"revision": "canary", "mesh": {"proxyConfig": {
                      "discoveryAddress": "mesh.example:15012"}}}, {},
                     '{"discoveryAddress":"mesh.example:15012"}\n', CANARY,
                     id="mesh-proxy-config-wins"),
        pytest.param({"revision": "canary"}, {"proxy.istio.io/config": "concurrency: 2"},
                     f'{{"discoveryAddress":"{CANARY}","concurrency":2}}\n', CANARY,
                     id="annotation-merges-over-it"),
        pytest.param({"revision": "canary"}, {"proxy.istio.io/config": "discoveryAddress: x:1"},
                     '{"discoveryAddress":"x:1"}\n', CANARY, id="annotation-wins"),
    ],
)  # fmt: skip
def test_a_revisions_proxy_config_names_its_control_plane_as_istio_1_20_8_does(
    settings: dict[str, Any], annotations: dict[str, str], proxy_config_env: str, ca_addr: str
) -> None:
    env = _proxy_env(settings, annotations)
    assert (env["PROXY_CONFIG"], env["CA_ADDR"]) == (proxy_config_env, ca_addr)


def test_the_pods_interception_annotation_beats_the_mesh_default_but_proxy_config_keeps_it() -> (
    None
):
    settings = {"mesh": {"proxyConfig": {"interceptionMode": "TPROXY"}}}
    tproxy = _proxy_env(settings, {})
    redirect = _proxy_env(settings, {"sidecar.istio.io/interceptionMode": "REDIRECT"})
    assert tproxy["ISTIO_META_INTERCEPTION_MODE"] == "TPROXY"
    assert redirect["ISTIO_META_INTERCEPTION_MODE"] == "REDIRECT"
    # Istio 1.20.8 writes the mesh's ProxyConfig whatever the annotation says.
    assert redirect["PROXY_CONFIG"] == tproxy["PROXY_CONFIG"] == '{"interceptionMode":"TPROXY"}\n'
