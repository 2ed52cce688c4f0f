"""LiveSettings on its own: each source's last good input kept, the engine swapped whole
(with its memo), keys read at start held, and each problem said and counted once."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pytest
import support

from injector import istio_config
from injector.cluster import kubeapi
from injector.core import config_file
from injector.core.config import Config, ConfigError
from injector.core.engine import Engine
from injector.istio_config import configmaps
from injector.server.live_settings import Inputs, LiveSettings
from injector.telemetry.metrics import Metrics

MESH_ORIGIN = "ConfigMap istio-system/istio, key mesh"


def _live(file_version: str | None = "f1") -> LiveSettings:
    live = LiveSettings(
        Inputs(Config(), configmaps.sources("istio-system", "default")),
        Metrics(),
        file_version=file_version,
    )
    live.freeze()
    return live


def _sample(live: LiveSettings, name: str, **labels: str) -> float | None:
    value = live.metrics.registry.get_sample_value(name, labels)
    return None if value is None else float(value)


def _trust_domain(engine: Engine) -> str:
    return engine.config.mesh.trustDomain


def test_a_new_version_swaps_in_a_new_engine_with_an_empty_memo() -> None:
    live = _live()
    swapped: list[Engine] = []
    live.publish = swapped.append
    old = live.engine
    old.native_supported = True
    outcome = old.inject(support.review(_pod())["request"]["object"], namespace="shop", ns=None)
    assert outcome.result == "injected"
    assert len(old._outcomes) == 1
    live.offer_mesh({"mesh": "trustDomain: new.example"}, "7")
    assert swapped == [live.engine]
    assert live.engine is not old
    assert _trust_domain(live.engine) == "new.example"
    assert _trust_domain(old) == "cluster.local", "the engine in use is never changed"
    assert len(live.engine._outcomes) == 0
    assert live.engine.native_supported is True, "what the cluster said is carried over"


def test_a_new_version_injects_from_render_plans_built_again() -> None:
    live = _live()
    pod = support.review(_pod())["request"]["object"]
    old = live.engine
    before = old.inject(pod, namespace="shop", ns=None)
    assert len(old._plans) == 1
    live.offer_mesh({"mesh": "trustDomain: new.example"}, "7")
    assert len(live.engine._plans) == 0
    after = live.engine.inject(pod, namespace="shop", ns=None)
    assert len(live.engine._plans) == 1
    assert "new.example" in str(after.ops)
    assert "new.example" not in str(before.ops)
    assert old.inject(pod, namespace="shop", ns=None).patch == before.patch


def _pod() -> dict[str, Any]:
    return {"metadata": {"name": "web"}, "spec": {"containers": [{"name": "web", "image": "x"}]}}


@pytest.mark.parametrize(
    ("offer", "source", "origin"),
    [
        pytest.param(
            lambda live: live.offer_mesh({"mesh": "trustDomain: [x"}, "8"),
            "istio-mesh",
            MESH_ORIGIN,
            id="mesh-not-yaml",
        ),
        pytest.param(
            lambda live: live.offer_injector({"values": "- a list"}, "8"),
            "istio-injector",
            "ConfigMap istio-system/istio-sidecar-injector, key values",
            id="values-not-a-mapping",
        ),
    ],
)
def test_a_bad_version_is_said_and_counted_once_and_changes_nothing(
    offer: Any, source: str, origin: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="injector.settings")
    live = _live()
    live.offer_mesh({"mesh": "trustDomain: good.example"}, "7")
    good = live.engine
    for _ in range(3):
        offer(live)
    assert live.engine is good
    assert _sample(live, "sidecar_injector_settings_errors_total", source=source) == 1
    assert _sample(live, "sidecar_injector_settings_healthy", source=source) == 0
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(said) == 1
    assert said[0].startswith(f"{origin}: ")
    assert said[0].endswith("; keeping the settings in use")


def test_the_other_sources_last_good_input_is_kept_when_one_changes() -> None:
    live = _live()
    live.offer_mesh({"mesh": "trustDomain: kept.example"}, "7")
    live.offer_mesh({"mesh": "trustDomain: ["}, "8")
    live.offer_injector({"values": "{}"}, "9")
    assert _trust_domain(live.engine) == "kept.example"
    assert _sample(live, "sidecar_injector_settings_info", source="istio-mesh", version="7") == 1
    assert _sample(live, "sidecar_injector_settings_info", source="istio-injector", version="9")


def test_a_fix_restores_health_and_the_info_names_only_the_version_in_use() -> None:
    live = _live()
    live.offer_mesh({"mesh": "trustDomain: a.example"}, "7")
    live.offer_mesh({"mesh": "- broken"}, "8")
    live.offer_mesh({"mesh": "trustDomain: b.example"}, "9")
    assert _sample(live, "sidecar_injector_settings_healthy", source="istio-mesh") == 1
    assert _sample(live, "sidecar_injector_settings_info", source="istio-mesh", version="9") == 1
    assert _sample(live, "sidecar_injector_settings_info", source="istio-mesh", version="7") is None


def test_a_file_change_to_a_key_read_at_start_is_held_and_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="injector.settings")
    live = _live()
    changed = config_file.from_mapping(
        {"revision": "canary", "mesh": {"trustDomain": "c.example"}, "server": {"drainSeconds": 1}}
    )
    live.offer_file("f2", changed)
    live.offer_file("f3", dataclasses.replace(changed, policy="disabled"))
    config = live.engine.config
    assert (config.revision, config.server.drainSeconds) == ("default", 5.0)
    assert (config.mesh.trustDomain, config.policy) == ("c.example", "disabled")
    said = [r.getMessage() for r in caplog.records if "restart" in r.getMessage()]
    assert said == ["server, revision changed: read at start only, takes effect at restart"]


def test_a_file_that_cannot_be_read_keeps_the_settings_and_is_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="injector.settings")
    live = _live()
    in_use = live.engine
    problem = ConfigError("/etc/sidecar-injector/config.yaml: not valid YAML")
    live.offer_file("abc", problem)
    live.offer_file("abc", problem)
    assert live.engine is in_use
    assert _sample(live, "sidecar_injector_settings_errors_total", source="file") == 1
    assert _sample(live, "sidecar_injector_settings_info", source="file", version="f1") == 1


def test_an_unreadable_configmap_is_said_once_per_problem(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="injector.settings")
    live = _live()
    where = "ConfigMap istio-system/istio"
    for _ in range(3):
        live.unreadable("istio-mesh", where, kubeapi.ApiError(0, "Unreachable", "timed out"))
    said = [r.getMessage() for r in caplog.records]
    assert said == [
        "ConfigMap istio-system/istio: cannot be read: timed out; keeping the settings in use"
    ]
    live.offer_mesh({"mesh": "trustDomain: back.example"}, "3")
    assert _sample(live, "sidecar_injector_settings_healthy", source="istio-mesh") == 1


def test_each_warning_of_the_settings_is_said_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="injector.settings")

    def load(base: Config, sources: istio_config.Sources) -> istio_config.Settings:
        return istio_config.Settings(
            base, ("values.global.x is not modelled",) if sources.mesh else ()
        )

    monkeypatch.setattr(istio_config, "load", load)
    live = _live()
    live.offer_mesh({"mesh": "a: 1"}, "1")
    live.offer_mesh({"mesh": "a: 2"}, "2")
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert said == ["values.global.x is not modelled"]
