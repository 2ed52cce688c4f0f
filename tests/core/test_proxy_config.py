"""proxy.istio.io/config: strict validation, and PROXY_CONFIG as Istio 1.20.8 writes it."""

from __future__ import annotations

import pytest

from injector.core import config_file, proxy_config
from injector.core.config import ConfigError


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
        pytest.param("[1, 2]", "object", id="not-an-object"),
        pytest.param("{", "YAML", id="not-yaml"),
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


def test_a_bad_mesh_proxy_config_is_refused_at_load_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"mesh\.proxyConfig: field concurrency"):
        config_file.from_mapping({"mesh": {"proxyConfig": {"concurrency": "two"}}})
