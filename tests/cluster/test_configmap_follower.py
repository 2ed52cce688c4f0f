"""Following one ConfigMap by name against the in-memory API: listed and watched with
the name's field selector, each version's data reported, a deletion and a failure
reported too, and the loop never raising."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from support.certs import wait_until
from support.fake_kube import FakeApi

from injector.cluster import kubeapi
from injector.cluster.configmap_follower import ConfigMapFollower

CONFIGMAPS = "/api/v1/namespaces/istio-system/configmaps"


class Seen:
    def __init__(self) -> None:
        self.reports: list[Any] = []

    def data(self, data: Any, version: str) -> None:
        self.reports.append(("data", dict(data), version))

    def missing(self) -> None:
        self.reports.append(("missing",))

    def error(self, err: Exception) -> None:
        self.reports.append(("error", str(err)))


@pytest.fixture
def api() -> FakeApi:
    return FakeApi(watch_seconds=0.05)


def _follower(api: FakeApi, seen: Seen) -> ConfigMapFollower:
    return ConfigMapFollower(
        kubeapi.Cluster(api),
        "istio-system",
        "istio",
        on_data=seen.data,
        on_missing=seen.missing,
        on_error=seen.error,
    )


@pytest.fixture
def following(api: FakeApi) -> Iterator[Seen]:
    seen, stop = Seen(), threading.Event()
    thread = threading.Thread(target=_follower(api, seen).run, args=(stop,), daemon=True)
    thread.start()
    yield seen
    stop.set()
    thread.join(5)
    assert not thread.is_alive()


def test_one_read_lists_by_name_and_reports_the_data_and_version(api: FakeApi) -> None:
    api.put(CONFIGMAPS, {"metadata": {"name": "other"}, "data": {"mesh": "x"}})
    stored = api.put(
        CONFIGMAPS, {"metadata": {"name": "istio"}, "data": {"mesh": "a: 1"}, "binaryData": {}}
    )
    seen = Seen()
    _follower(api, seen).read_once()
    assert seen.reports == [("data", {"mesh": "a: 1"}, stored["metadata"]["resourceVersion"])]
    (call,) = api.calls
    assert (call.path, call.query["fieldSelector"]) == (CONFIGMAPS, "metadata.name=istio")


def test_a_configmap_that_does_not_exist_is_reported_missing(api: FakeApi) -> None:
    seen = Seen()
    _follower(api, seen).read_once()
    assert seen.reports == [("missing",)]


def test_a_refused_read_is_reported_not_raised(api: FakeApi) -> None:
    api.fail_next("GET", CONFIGMAPS, 403)
    seen = Seen()
    _follower(api, seen).read_once()
    assert seen.reports == [("error", "403 Injected: injected failure 403")]


def test_changes_and_a_deletion_arrive_through_the_named_watch(
    api: FakeApi, following: Seen
) -> None:
    wait_until(lambda: following.reports == [("missing",)], 5, "the first list")
    first = api.put(CONFIGMAPS, {"metadata": {"name": "istio"}, "data": {"mesh": "a: 1"}})
    version = first["metadata"]["resourceVersion"]
    api.put(CONFIGMAPS, {"metadata": {"name": "unrelated"}, "data": {"mesh": "b: 1"}})
    wait_until(lambda: len(following.reports) == 2, 5, "the change")
    api.delete(CONFIGMAPS, "istio")
    wait_until(lambda: len(following.reports) == 3, 5, "the deletion")
    assert following.reports[1:] == [("data", {"mesh": "a: 1"}, version), ("missing",)]
    watches = [c for c in api.calls if c.query.get("watch") == "1"]
    assert watches
    assert {c.query["fieldSelector"] for c in watches} == {"metadata.name=istio"}
