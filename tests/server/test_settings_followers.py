"""Where the settings' watches look, and that stopping them never waits on the API."""

from __future__ import annotations

import threading
import time

import pytest

from injector.istio_config import configmaps
from injector.server import settings_followers


@pytest.mark.parametrize(
    ("revision", "names"),
    [
        pytest.param("default", ("istio", "istio-sidecar-injector"), id="default"),
        pytest.param("", ("istio", "istio-sidecar-injector"), id="unnamed"),
        pytest.param("canary", ("istio-canary", "istio-sidecar-injector-canary"), id="revision"),
    ],
)
def test_istios_configmaps_are_named_as_istios_chart_names_them(
    revision: str, names: tuple[str, str]
) -> None:
    assert configmaps.names(revision) == names


def test_each_source_is_named_by_its_configmap_and_key() -> None:
    sources = configmaps.sources("istio-system", "canary")
    assert (sources.mesh, sources.values, sources.inject_config) == (None, None, None)
    assert sources.mesh_origin == "ConfigMap istio-system/istio-canary, key mesh"
    assert (
        sources.values_origin == "ConfigMap istio-system/istio-sidecar-injector-canary, key values"
    )
    assert sources.inject_config_origin.endswith("istio-sidecar-injector-canary, key config")


def test_stopping_waits_a_bounded_time_for_a_watch_blocked_on_a_quiet_stream() -> None:
    released = threading.Event()

    def quiet(_stop: threading.Event) -> None:  # a watch that ignores stop until data
        released.wait(30)

    follow = settings_followers.Followers({name: quiet for name in "abcd"})
    follow.start()
    started = time.monotonic()
    follow.stop(timeout=0.5)
    assert time.monotonic() - started < 1.5, "the timeout is for all the loops together"
    released.set()
