"""The namespace cache: unknown until synced, then kept current by the watch, and used
by the policy (labels) and the engine (inherited annotations) without API calls."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
import support
from support.fake_kube import FakeApi

from injector.cluster import kubeapi
from injector.cluster.namespace_cache import NamespaceCache, from_object
from injector.core import handler, names
from injector.core.engine import Engine
from injector.telemetry.metrics import Metrics

NAMESPACES = "/api/v1/namespaces"


def _namespace(name: str, labels: dict[str, str] | None = None, **annotations: str) -> Any:
    return {"metadata": {"name": name, "labels": labels or {}, "annotations": annotations}}


def _eventually(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.fixture
def api() -> FakeApi:
    api = FakeApi(watch_seconds=0.05)
    api.put(NAMESPACES, _namespace("shop", {"istio-injection": "enabled"}))
    api.put(NAMESPACES, _namespace("plain"))
    tuned = _namespace("tuned", {"istio-injection": "enabled"}, **{names.PROXY_CPU: "300m"})
    api.put(NAMESPACES, tuned)
    return api


@pytest.fixture
def running(api: FakeApi) -> Iterator[NamespaceCache]:
    cache = NamespaceCache(kubeapi.Cluster(api), metrics=Metrics())
    stop = threading.Event()
    thread = threading.Thread(target=cache.run, args=(stop,), daemon=True)
    thread.start()
    assert cache.wait_synced(3)
    yield cache
    stop.set()
    thread.join(3)
    assert not thread.is_alive()


def test_nothing_is_known_before_the_first_full_list(api: FakeApi) -> None:
    cache = NamespaceCache(kubeapi.Cluster(api))
    assert not cache.synced
    assert cache.lookup("shop") is None
    assert api.calls == [], "a lookup never calls the API"


def test_after_the_first_list_a_namespace_has_its_labels(running: NamespaceCache) -> None:
    shop = running.lookup("shop")
    assert shop is not None
    assert (shop.name, dict(shop.labels)) == ("shop", {"istio-injection": "enabled"})
    plain = running.lookup("plain")
    assert plain is not None
    assert dict(plain.labels) == {}


def test_a_namespace_not_seen_yet_is_unknown_even_when_synced(running: NamespaceCache) -> None:
    assert running.synced
    assert running.lookup("created-a-moment-ago") is None


def _lists(api: FakeApi) -> list[Any]:
    """Every GET on namespaces but the watches: lists and single gets."""
    return [
        c for c in api.calls if c.method == "GET" and c.path.startswith(NAMESPACES)
        and c.query.get("watch") != "1"
    ]  # fmt: skip


def test_lookups_make_no_api_calls(api: FakeApi, running: NamespaceCache) -> None:
    assert len(_lists(api)) == 1, "the first full list"
    for name in ("shop", "plain", "unknown") * 50:
        running.lookup(name)
    assert len(_lists(api)) == 1


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(
            lambda api: api.put(NAMESPACES, _namespace("plain", {"istio-injection": "enabled"})),
            {"istio-injection": "enabled"},
            id="label-added",
        ),
        pytest.param(
            lambda api: api.put(NAMESPACES, _namespace("new", {"team": "a"})),
            None,
            id="namespace-added",
        ),
    ],
)
def test_the_watch_brings_changes_in(
    api: FakeApi,
    running: NamespaceCache,
    change: Callable[[FakeApi], Any],
    expected: dict[str, str] | None,
) -> None:
    change(api)
    if expected is not None:
        _eventually(lambda: dict(getattr(running.lookup("plain"), "labels", {})) == expected)
    else:
        _eventually(lambda: running.lookup("new") is not None)


def test_a_deleted_namespace_is_forgotten(api: FakeApi, running: NamespaceCache) -> None:
    api.delete(NAMESPACES, "plain")
    _eventually(lambda: running.lookup("plain") is None)
    assert running.lookup("shop") is not None


def test_a_failed_first_list_is_retried_until_synced(api: FakeApi) -> None:
    api.fail_next("GET", NAMESPACES, 500)
    metrics = Metrics()
    cache = NamespaceCache(kubeapi.Cluster(api), metrics=metrics)
    gauge = "sidecar_injector_namespace_cache_synced"
    assert metrics.registry.get_sample_value(gauge) == 0
    stop = threading.Event()
    thread = threading.Thread(target=cache.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert cache.wait_synced(5)
        assert metrics.registry.get_sample_value(gauge) == 1
    finally:
        stop.set()
        thread.join(3)
    assert len(_lists(api)) == 2


def test_only_the_annotations_pods_inherit_are_kept() -> None:
    obj = _namespace(
        "shop",
        **{names.PROXY_CPU: "300m", "kubectl.kubernetes.io/last-applied-configuration": "{}"},
    )
    assert dict(from_object(obj).annotations) == {names.PROXY_CPU: "300m"}


def test_a_cached_namespace_cannot_be_changed_by_a_reader() -> None:
    namespace = from_object(_namespace("shop", {"istio-injection": "enabled"}))
    with pytest.raises(TypeError):
        namespace.labels["istio-injection"] = "disabled"  # type: ignore[index]


# ---- the cache drives the policy and the engine ---------------------------------------


def _handle(engine: Engine, cache: NamespaceCache, pod: dict[str, Any], ns: str) -> Any:
    return handler.handle(support.review(pod, namespace=ns), engine=engine, namespaces=cache.lookup)


def test_a_synced_cache_replaces_trust_in_the_selector_with_the_label(
    engine: Engine, running: NamespaceCache, pod: dict[str, Any]
) -> None:
    handled = _handle(engine, running, pod, "shop")
    assert (handled.result, handled.reasons) == ("injected", ("namespace_enabled",))
    handled = _handle(engine, running, pod, "plain")
    assert (handled.result, handled.reasons) == ("skipped", ("namespace_not_enabled",))


def test_an_unsynced_cache_trusts_the_namespace_selector(
    engine: Engine, api: FakeApi, pod: dict[str, Any]
) -> None:
    cache = NamespaceCache(kubeapi.Cluster(api))
    handled = _handle(engine, cache, pod, "plain")
    assert (handled.result, handled.reasons) == ("injected", ("namespace_selector_trusted",))


def test_namespace_annotations_are_defaults_recorded_in_the_status(
    engine: Engine, running: NamespaceCache, pod: dict[str, Any]
) -> None:
    pod["metadata"]["annotations"] = {names.PROXY_MEMORY: "200Mi"}
    mutated = support.apply(pod, _handle(engine, running, pod, "tuned").answer)
    proxy = next(c for c in mutated["spec"]["containers"] if c["name"] == "istio-proxy")
    assert proxy["resources"]["requests"] == {"cpu": "300m", "memory": "200Mi"}
    status = orjson.loads(mutated["metadata"]["annotations"][names.STATUS])
    assert status["values"] == {names.PROXY_CPU: "300m", names.PROXY_MEMORY: "200Mi"}


def test_a_pod_annotation_wins_over_the_namespace_default(
    engine: Engine, running: NamespaceCache, pod: dict[str, Any]
) -> None:
    pod["metadata"]["annotations"] = {names.PROXY_CPU: "150m"}
    mutated = support.apply(pod, _handle(engine, running, pod, "tuned").answer)
    proxy = next(c for c in mutated["spec"]["containers"] if c["name"] == "istio-proxy")
    assert proxy["resources"]["requests"]["cpu"] == "150m"
