"""Loading and validating the configuration file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from injector.core import config, config_file


def test_no_file_gives_the_documented_defaults() -> None:
    loaded = config_file.load(None)
    assert loaded.policy == "enabled"
    assert loaded.nativeSidecar == "auto"
    assert loaded.proxy.image == "docker.io/istio/proxyv2:1.20.8"
    assert loaded.proxy.uid == 1337
    assert loaded.systemNamespaces == ("kube-system", "kube-public", "kube-node-lease")
    assert loaded.server.maxBodyBytes == 4 * 1024 * 1024
    assert loaded.server.keepAliveSeconds >= 90


def test_a_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "policy: disabled\nnativeSidecar: true\n"
        "proxy:\n  resources:\n    limits: {cpu: 500m}\n"
        "templates: mine\n"
    )
    loaded = config_file.load(path)
    assert loaded.policy == "disabled"
    assert loaded.nativeSidecar == "true"
    assert loaded.proxy.resources.limits == {"cpu": "500m", "memory": "1024Mi"}
    assert loaded.proxy.resources.requests == {"cpu": "100m", "memory": "128Mi"}
    assert loaded.templates == tmp_path / "mine"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        pytest.param({"polcy": "enabled"}, "unknown key polcy", id="typo"),
        pytest.param({"proxy": {"imag": "x"}}, "unknown key proxy.imag", id="nested-typo"),
        pytest.param({"policy": "sometimes"}, "policy must be one of", id="bad-choice"),
        pytest.param({"proxy": {"uid": "1337"}}, "proxy.uid must be an integer", id="uid-string"),
        pytest.param({"proxy": {"uid": 0}}, "positive user id", id="uid-root"),
        pytest.param({"proxy": {"resources": {"requests": {"cpu": "NaN"}}}},
                     "proxy.resources.requests.cpu", id="bad-quantity"),
        pytest.param({"proxy": {"resources": {"requests": {"cpu": "3"}}}}, "request 3 > limit",
                     id="request-over-limit"),
        pytest.param({"interception": {"excludeInboundPorts": "80,x"}},
                     "interception.excludeInboundPorts", id="bad-port"),
        pytest.param({"neverInjectSelector": [{"matchLabel": {}}]}, "neverInjectSelector\\[0\\]",
                     id="bad-selector"),
        pytest.param({"alwaysInjectSelector": [{"matchExpressions": [
            {"key": "a", "operator": "In"}]}]}, "needs at least one value",
                     id="in-without-values"),
        pytest.param({"systemNamespaces": ["kube-system", ""]}, "non-empty strings",
                     id="empty-namespace"),
        pytest.param({"server": {"maxBodyBytes": 10}}, "server.maxBodyBytes", id="tiny-body-limit"),
        pytest.param({"server": {"drainSeconds": True}}, "server.drainSeconds", id="bool-number"),
        pytest.param({"server": {"reviewTimeoutSeconds": "4"}}, "server.reviewTimeoutSeconds",
                     id="string-number"),
        pytest.param(["a"], "must be a mapping", id="not-a-mapping"),
        pytest.param({"mesh": {"trustDomain": "a\x00b"}}, r"mesh\.trustDomain: 'a\\x00b'",
                     id="trust-domain-nul"),
        pytest.param({"mesh": {"trustDomain": "Cluster.Local"}}, "mesh.trustDomain",
                     id="trust-domain-uppercase"),
        pytest.param({"mesh": {"trustDomain": "a..b"}}, "mesh.trustDomain", id="trust-domain-gap"),
        pytest.param({"mesh": {"trustDomain": ""}}, "mesh.trustDomain", id="trust-domain-empty"),
    ],
)  # fmt: skip
def test_a_bad_configuration_names_the_key_and_the_problem(data: Any, problem: str) -> None:
    with pytest.raises(config.ConfigError, match=problem):
        config_file.from_mapping(data)


def test_broken_yaml_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("policy: [")
    with pytest.raises(config.ConfigError, match=r"config\.yaml: not valid YAML"):
        config_file.load(path)


def test_yaml_tags_that_run_code_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("policy: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(config.ConfigError, match="not valid YAML"):
        config_file.load(path)


def test_the_fingerprint_follows_what_shapes_the_sidecar_only() -> None:
    base = config.Config()
    image = config_file.from_mapping({"proxy": {"image": "proxy:2"}})
    policy = config_file.from_mapping({"policy": "disabled"})
    assert base.fingerprint("t") != image.fingerprint("t")
    assert base.fingerprint("t") != base.fingerprint("other template")
    assert base.fingerprint("t") == policy.fingerprint("t")


@pytest.mark.parametrize("domain", ["cluster.local", "td-1.example.com", "example.com.", "local"])
def test_a_trust_domain_of_dns_labels_is_accepted(domain: str) -> None:
    assert config_file.from_mapping({"mesh": {"trustDomain": domain}}).mesh.trustDomain == domain
