"""The settings that Istio keeps in its chart values, as keys of our own file: status
port, readiness, log levels, pull secrets, network, CNI; and configHash stability."""

from __future__ import annotations

from typing import Any

import pytest

from injector.core import config_file
from injector.core.config import Cni, Config, ConfigError, Readiness


def test_the_new_keys_are_read_with_their_types() -> None:
    loaded = config_file.from_mapping({
        "proxy": {"statusPort": 0, "readiness": {"periodSeconds": 3}, "logLevel": "debug",
                  "componentLogLevel": "misc:info", "agentLogLevel": "default:debug",
                  "imagePullSecrets": ["a", "b"], "mountMtlsCerts": True},
        "mesh": {"network": "n1"},
        "cni": {"enabled": True, "chained": False},
    })  # fmt: skip
    assert loaded.proxy.statusPort == 0
    assert loaded.proxy.readiness == Readiness(periodSeconds=3)
    assert (loaded.proxy.logLevel, loaded.proxy.componentLogLevel) == ("debug", "misc:info")
    assert loaded.proxy.agentLogLevel == "default:debug"
    assert loaded.proxy.imagePullSecrets == ("a", "b")
    assert loaded.proxy.mountMtlsCerts is True
    assert loaded.mesh.network == "n1"
    assert loaded.cni == Cni(enabled=True, chained=False)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param({"proxy": {"statusPort": 70000}}, "proxy.statusPort must be a port",
                     id="status-port"),
        pytest.param({"proxy": {"readiness": {"periodSeconds": 0}}},
                     "proxy.readiness.periodSeconds must be a whole number, 1 or more",
                     id="period"),
        pytest.param({"proxy": {"readiness": {"delay": 1}}}, "unknown key proxy.readiness.delay",
                     id="unknown-readiness-key"),
        pytest.param({"proxy": {"logLevel": "loud"}}, "proxy.logLevel: expected one of",
                     id="log-level"),
        pytest.param({"proxy": {"agentLogLevel": "default:"}}, "proxy.agentLogLevel:",
                     id="agent-level"),
        pytest.param({"proxy": {"imagePullSecrets": [""]}},
                     "proxy.imagePullSecrets must be a list of non-empty strings", id="secret"),
        pytest.param({"mesh": {"network": 3}}, "mesh.network must be a str", id="network"),
        pytest.param({"cni": {"enabled": "yes"}}, "cni.enabled must be true or false", id="cni"),
    ],
)  # fmt: skip
def test_a_bad_value_names_its_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_file.from_mapping(data)


def test_settings_at_their_defaults_leave_the_config_hash_as_it_was() -> None:
    # The goldens (e.g. basic.out.yaml) hold the configHash of before these settings.
    assert Config().fingerprint("") == config_file.from_mapping({}).fingerprint("")
    changed = config_file.from_mapping({"proxy": {"statusPort": 15021}})
    assert changed.fingerprint("") != Config().fingerprint("")
    assert config_file.from_mapping({"cni": {"enabled": True}}).fingerprint("") != (
        Config().fingerprint("")
    )
