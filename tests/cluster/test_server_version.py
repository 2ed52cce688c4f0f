"""Native sidecars in `auto` mode: the API server's version decides (1.29 and later),
asked at start and refreshed; a Job's Pod with a classic sidecar gets a warning. The
version as the webhook configuration's rendering knows it (KnownVersion)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import support
from support import kube_versions
from support.fake_kube import FakeApi

from injector.cluster import kubeapi
from injector.cluster.server_version import KnownVersion, VersionCheck, native_supported
from injector.core import handler, overrides
from injector.core.engine import Engine
from injector.telemetry.metrics import Metrics

JOB_OWNER = {"apiVersion": "batch/v1", "kind": "Job", "name": "nightly-28374", "uid": "u",
             "controller": True}  # fmt: skip
GAUGE = "sidecar_injector_native_sidecars_supported"


@pytest.mark.parametrize(
    ("version", "supported"),
    [
        pytest.param((1, 27), False, id="1.27"),
        pytest.param((1, 28), False, id="1.28-alpha-off-by-default"),
        pytest.param((1, 29), True, id="1.29-beta-on-by-default"),
        pytest.param((1, 33), True, id="1.33"),
        pytest.param((2, 0), True, id="2.0"),
    ],
)
def test_native_sidecars_start_at_kubernetes_1_29(
    version: tuple[int, int], supported: bool
) -> None:
    assert native_supported(version) is supported


@pytest.mark.parametrize(
    ("minor", "supported"),
    [
        pytest.param("28", False, id="plain"),
        pytest.param("29+", True, id="gke-style-plus"),
        pytest.param("", False, id="empty"),
    ],
)
def test_the_check_sets_the_verdict_and_the_gauge(minor: str, supported: bool) -> None:
    seen: list[bool] = []
    metrics = Metrics()
    check = VersionCheck(
        kubeapi.Cluster(FakeApi(version=("1", minor))), seen.append, metrics=metrics
    )
    assert metrics.registry.get_sample_value(GAUGE) == -1
    assert check.check() is supported
    assert seen == [supported]
    assert metrics.registry.get_sample_value(GAUGE) == int(supported)


def test_a_failed_check_keeps_the_last_verdict_and_the_loop_retries() -> None:
    api = FakeApi(version=("1", "28"))
    seen: list[bool] = []
    check = VersionCheck(
        kubeapi.Cluster(api), seen.append, refresh_seconds=0.02, retry_seconds=0.02
    )
    assert check.check() is False
    api.fail_next("GET", "/version", 503)
    assert check.check() is None
    assert (check.supported, seen) == (False, [False])
    api.version_info["minor"] = "30"  # the control plane was upgraded
    stop = threading.Event()
    thread = threading.Thread(target=check.run, args=(stop,), daemon=True)
    thread.start()
    deadline = time.monotonic() + 3
    while check.supported is not True:
        assert time.monotonic() < deadline, "the refresh never saw the upgrade"
        time.sleep(0.01)
    stop.set()
    thread.join(3)
    assert seen[-1] is True


@pytest.mark.parametrize(
    "asked", [pytest.param(None, id="auto"), pytest.param("true", id="pod-asks-native")]
)
@pytest.mark.parametrize(
    "version", [pytest.param(v, id=kube_versions.show(v)) for v in kube_versions.supported()]
)
def test_the_injected_pod_is_valid_on_the_api_servers_version(
    engine: Engine, pod: dict[str, Any], version: tuple[int, int], asked: str | None
) -> None:
    """Whatever the Pod asks for, nothing injected needs a newer server than the one
    that answered GET /version."""

    def publish(supported: bool) -> None:
        engine.native_supported = supported

    VersionCheck(kubeapi.Cluster(FakeApi(version=("1", str(version[1])))), publish).check()
    if asked is not None:
        pod["metadata"]["annotations"] = {"sidecar.istio.io/nativeSidecar": asked}
    injected = support.apply(pod, handler.handle(support.review(pod), engine=engine).answer)
    assert kube_versions.problems({"apiVersion": "v1", "kind": "Pod", **injected}, version) == []
    native = any("restartPolicy" in c for c in injected["spec"].get("initContainers", []))
    assert native is (version >= (1, 29))


# ---- Jobs and classic sidecars -------------------------------------------------------------


def _job_pod(pod: dict[str, Any]) -> dict[str, Any]:
    pod["metadata"]["ownerReferences"] = [JOB_OWNER]
    return pod


@pytest.mark.parametrize(
    ("supported", "because"),
    [
        pytest.param(False, "older than 1.29", id="old-server"),
        pytest.param(None, "version is not known", id="unknown"),
    ],
)
def test_a_jobs_pod_with_a_classic_sidecar_is_warned_about(
    engine: Engine, pod: dict[str, Any], supported: bool | None, because: str
) -> None:
    engine.native_supported = supported
    handled = handler.handle(support.review(_job_pod(pod)), engine=engine)
    assert handled.result == "injected"
    warnings = handled.answer["response"]["warnings"]
    assert len(warnings) == 1
    assert because in warnings[0]
    assert "the Job will not complete while the proxy keeps running" in warnings[0]
    assert len(warnings[0]) <= 256, "kube-apiserver may cut longer warnings"


def test_native_sidecars_turned_off_still_warn_for_a_jobs_pod(
    make_engine: Callable[..., Engine], pod: dict[str, Any]
) -> None:
    engine = make_engine({"nativeSidecar": "false"})
    engine.native_supported = True
    outcome = engine.inject(_job_pod(pod), namespace="shop", ns=None)
    assert outcome.warnings == [overrides.job_warning(True)]
    assert "turned off" in outcome.warnings[0]


def test_a_jobs_pod_with_a_native_sidecar_gets_no_warning(
    engine: Engine, pod: dict[str, Any]
) -> None:
    engine.native_supported = True
    outcome = engine.inject(_job_pod(pod), namespace="shop", ns=None)
    assert outcome.result == "injected"
    assert outcome.warnings == []
    mutated = support.apply(pod, handler.handle(support.review(pod), engine=engine).answer)
    proxy = next(c for c in mutated["spec"]["initContainers"] if c["name"] == "istio-proxy")
    assert proxy["restartPolicy"] == "Always"
    assert [c["name"] for c in mutated["spec"]["initContainers"]] == ["istio-init", "istio-proxy"]


@pytest.mark.parametrize(
    "owner",
    [
        pytest.param({"apiVersion": "apps/v1", "kind": "ReplicaSet"}, id="replicaset"),
        pytest.param({"apiVersion": "example.com/v1", "kind": "Job"}, id="a-job-of-another-api"),
    ],
)
def test_other_pods_with_a_classic_sidecar_get_no_job_warning(
    engine: Engine, pod: dict[str, Any], owner: dict[str, str]
) -> None:
    engine.native_supported = False
    pod["metadata"]["ownerReferences"] = [{**owner, "name": "x", "uid": "u"}]
    assert engine.inject(pod, namespace="shop", ns=None).warnings == []


def test_a_skipped_jobs_pod_gets_no_job_warning(engine: Engine, pod: dict[str, Any]) -> None:
    engine.native_supported = False
    pod["metadata"]["labels"]["sidecar.istio.io/inject"] = "false"
    outcome = engine.inject(_job_pod(pod), namespace="shop", ns=None)
    assert (outcome.result, outcome.warnings) == ("skipped", [])


# ---- KnownVersion ------------------------------------------------------------------------


def test_the_known_version_is_asked_only_when_first_needed_then_kept() -> None:
    api, now = FakeApi(version=("1", "27")), [0.0]
    known = KnownVersion(kubeapi.Cluster(api), refresh_seconds=600, clock=lambda: now[0])
    assert api.calls_to("GET", "/version") == []
    assert known() == (1, 27)
    api.version_info["minor"] = "28"
    now[0] = 599.0
    assert known() == (1, 27)
    assert len(api.calls_to("GET", "/version")) == 1


def test_the_known_version_follows_an_upgrade_after_the_refresh_interval() -> None:
    api, now = FakeApi(version=("1", "27")), [0.0]
    known = KnownVersion(kubeapi.Cluster(api), refresh_seconds=600, clock=lambda: now[0])
    assert known() == (1, 27)
    api.version_info["minor"] = "28"
    now[0] = 600.0
    assert known() == (1, 28)


def test_a_failed_ask_answers_what_was_known_and_asks_again_next_time() -> None:
    api, now = FakeApi(version=("1", "30")), [0.0]
    known = KnownVersion(kubeapi.Cluster(api), refresh_seconds=600, clock=lambda: now[0])
    api.fail_next("GET", "/version", 503)
    assert known() is None, "not known yet"
    assert known() == (1, 30), "asked again at once"
    now[0] = 600.0
    api.fail_next("GET", "/version", 503)
    assert known() == (1, 30), "kept"
