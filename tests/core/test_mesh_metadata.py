"""Mesh labels and annotations as Istio 1.20.8 derives them, and the status shape."""

from __future__ import annotations

import orjson
import pytest
import support

from injector.core import handler, mesh_metadata
from injector.core.engine import Engine


@pytest.mark.parametrize(
    ("labels", "name", "revision"),
    [
        pytest.param({}, "workload", "latest", id="workload-name-and-latest"),
        pytest.param({"app": "a", "version": "v1"}, "a", "v1", id="app-and-version"),
        pytest.param({"app": "a", "app.kubernetes.io/name": "k", "version": "v1",
                      "app.kubernetes.io/version": "2"}, "k", "2", id="kubernetes-labels-first"),
        pytest.param({"service.istio.io/canonical-name": "c", "app": "a",
                      "service.istio.io/canonical-revision": "r", "version": "v"}, "c", "r",
                     id="existing-labels-win"),
        pytest.param({"app": "", "version": ""}, "workload", "latest", id="empty-values-skipped"),
    ],
)  # fmt: skip
def test_canonical_labels_follow_istios_order(
    labels: dict[str, str], name: str, revision: str
) -> None:
    found = mesh_metadata.mesh_labels(labels, workload_name="workload")
    assert found["service.istio.io/canonical-name"] == name
    assert found["service.istio.io/canonical-revision"] == revision


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        pytest.param({}, "istio", id="added"),
        pytest.param({"security.istio.io/tlsMode": "disabled"}, "disabled", id="kept"),
    ],
)
def test_the_tls_mode_label_keeps_a_pods_own_value(existing: dict[str, str], expected: str) -> None:
    found = mesh_metadata.mesh_labels(existing, workload_name="w")
    assert found["security.istio.io/tlsMode"] == expected


def test_default_containers_are_only_set_when_not_chosen_and_there_is_an_app() -> None:
    chosen = {"kubectl.kubernetes.io/default-container": "b"}
    found = mesh_metadata.pod_annotations(chosen, app_containers=["a", "b"], revision="")
    assert found == {"istio.io/rev": "default", "kubectl.kubernetes.io/default-logs-container": "a"}
    assert mesh_metadata.pod_annotations({}, app_containers=[], revision="canary") == {
        "istio.io/rev": "canary"
    }


def test_the_status_annotation_starts_with_istios_fields_in_istios_order(engine: Engine) -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "app", "image": "a"}]}}
    injected = support.apply(pod, handler.handle(support.review(pod), engine=engine).answer)
    status = orjson.loads(injected["metadata"]["annotations"]["sidecar.istio.io/status"])
    istio = ["initContainers", "containers", "volumes", "imagePullSecrets", "revision"]
    assert list(status)[:5] == istio
    assert status["containers"] == ["istio-proxy"] and status["imagePullSecrets"] is None
