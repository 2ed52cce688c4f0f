"""Prometheus merge: the app's scrape settings move into the proxy env, exactly when
Istio 1.20.8 does it."""

from __future__ import annotations

import orjson
import pytest

from injector.core import prometheus

REPOINTED = {
    "prometheus.io/port": "15020",
    "prometheus.io/path": "/stats/prometheus",
    "prometheus.io/scrape": "true",
}


@pytest.mark.parametrize(
    ("annotations", "enabled", "after", "env"),
    [
        pytest.param({}, True, REPOINTED, None, id="no-settings-still-repointed"),
        pytest.param({"prometheus.io/port": "9102", "prometheus_io_path": "/m"}, True, REPOINTED,
                     {"scrape": "", "path": "/m", "port": "9102"}, id="sanitized-keys-are-one-key"),
        pytest.param({"prometheus.io/scrape": "false"}, True, {"prometheus.io/scrape": "false"},
                     None, id="scrape-off"),
        pytest.param({"prometheus.io/scrape": "maybe"}, True,
                     REPOINTED, {"scrape": "maybe", "path": "", "port": ""},
                     id="unparsable-scrape-is-ignored"),
        pytest.param({"prometheus.istio.io/merge-metrics": "false"}, True,
                     {"prometheus.istio.io/merge-metrics": "false"}, None, id="pod-turns-it-off"),
        pytest.param({"prometheus.istio.io/merge-metrics": "true"}, False,
                     {"prometheus.istio.io/merge-metrics": "true", **REPOINTED}, None,
                     id="pod-turns-it-on"),
        pytest.param({}, False, {}, None, id="configuration-turns-it-off"),
        pytest.param({"prometheus.io/port": "15020", "prometheus.io/path": "/x"}, True,
                     {"prometheus.io/port": "15020", "prometheus.io/path": "/x"}, None,
                     id="already-repointed-is-left-alone"),
    ],
)  # fmt: skip
def test_prometheus_annotations_are_merged_as_istio_does(
    annotations: dict[str, str], enabled: bool, after: dict[str, str], env: dict[str, str] | None
) -> None:
    found = prometheus.merge(annotations, enabled=enabled)
    assert annotations == after
    if env is None:
        assert found is None
    else:
        assert found is not None and found["name"] == "ISTIO_PROMETHEUS_ANNOTATIONS"
        assert list(orjson.loads(found["value"]).items()) == list(env.items())
