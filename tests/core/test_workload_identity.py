"""The workload a Pod belongs to, as Istio 1.20.8 names it, through both paths."""

from __future__ import annotations

from typing import Any

import pytest
import support
import yaml

from injector.core import handler, workloads
from injector.core.engine import Engine
from injector.core.workload_identity import Workload, of_pod


def _ref(api: str, kind: str, name: str) -> dict[str, Any]:
    return {"apiVersion": api, "kind": kind, "name": name, "uid": "u", "controller": True}


def _owned(kind: str, name: str, *, api: str = "apps/v1", labels: dict[str, str] | None = None,
           generate: bool = True) -> dict[str, Any]:  # fmt: skip
    metadata: dict[str, Any] = {
        "labels": labels or {},
        "ownerReferences": [_ref(api, kind, name)],
    }  # fmt: skip
    if generate:
        metadata["generateName"] = f"{name}-"
    else:
        metadata["name"] = f"{name}-0"
    return {"metadata": metadata, "spec": {"containers": [{"name": "app", "image": "a"}]}}


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        pytest.param(_owned("ReplicaSet", "web-7d4b9", labels={"pod-template-hash": "7d4b9"}),
                     Workload("web", "Deployment", "apps/v1"), id="replicaset-of-a-deployment"),
        pytest.param(_owned("ReplicaSet", "web-abc"), Workload("web-abc", "ReplicaSet", "apps/v1"),
                     id="replicaset-without-template-hash"),
        pytest.param(_owned("Job", "report-28277570", api="batch/v1"),
                     Workload("report", "CronJob", "batch/v1"), id="job-of-a-cronjob"),
        pytest.param(_owned("Job", "pi", api="batch/v1"), Workload("pi", "Job", "batch/v1"),
                     id="plain-job"),
        pytest.param(_owned("Job", "pi-1234567", api="batch/v1"),
                     Workload("pi-1234567", "Job", "batch/v1"), id="seven-digits-is-no-cronjob"),
        pytest.param(_owned("Job", "pi-12345678901", api="batch/v1"),
                     Workload("pi-12345678901", "Job", "batch/v1"),
                     id="eleven-digits-is-no-cronjob"),
        pytest.param(_owned("Job", "a-b-1234567890", api="batch/v1"),
                     Workload("a-b", "CronJob", "batch/v1"), id="cronjob-name-with-dashes"),
        pytest.param(_owned("DaemonSet", "agent"), Workload("agent", "DaemonSet", "apps/v1"),
                     id="daemonset"),
        pytest.param(_owned("StatefulSet", "db", generate=False), Workload("db-0"),
                     id="statefulset-pod-is-itself"),
        pytest.param({"metadata": {"name": "solo"}, "spec": {}}, Workload("solo"), id="bare-pod"),
        pytest.param({"metadata": {"generateName": "x-"}, "spec": {}}, Workload(""),
                     id="generated-name-without-controller"),
    ],
)  # fmt: skip
def test_a_pods_workload_follows_its_controller(pod: dict[str, Any], expected: Workload) -> None:
    assert of_pod(pod) == expected


@pytest.mark.parametrize(
    "api",
    [
        pytest.param("batch/v1", id="batch-v1"),
        pytest.param("batch/v1beta1", id="batch-v1beta1-as-written"),
    ],
)
def test_offline_a_cronjob_is_named_with_its_own_api_version(engine: Engine, api: str) -> None:
    text, _ = workloads.inject_text(yaml.safe_dump(_deployment("CronJob", api)), engine)
    template = yaml.safe_load(text)["spec"]["jobTemplate"]["spec"]["template"]
    env = _identity(template)[0]
    assert env[1] == {
        "name": "ISTIO_META_OWNER",
        "value": f"kubernetes://apis/{api}/namespaces/shop/cronjobs/web",
    }


def test_the_owner_is_a_kubernetes_uri_and_unknown_names_give_no_env() -> None:
    owner = Workload("web", "Deployment", "apps/v1").owner("shop")
    assert owner == "kubernetes://apis/apps/v1/namespaces/shop/deployments/web"
    assert Workload("").env("shop") == []


def _deployment(kind: str, api: str) -> dict[str, Any]:
    template = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "w"}]},
    }
    spec: dict[str, Any] = {"template": template}
    if kind == "CronJob":
        spec = {"jobTemplate": {"spec": {"template": template}}}
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": spec,
    }


def _as_controller_makes_it(kind: str) -> dict[str, Any]:
    """The Pod the workload's controller sends to admission."""
    owner = {
        "Deployment": ("ReplicaSet", "web-5d9f", "apps/v1"),
        "CronJob": ("Job", "web-28277570", "batch/v1"),
        "DaemonSet": ("DaemonSet", "web", "apps/v1"),
        "Job": ("Job", "web", "batch/v1"),
    }[kind]
    return {
        "metadata": {
            "generateName": f"{owner[1]}-",
            "labels": {"app": "web", "pod-template-hash": "5d9f"},
            "ownerReferences": [_ref(owner[2], owner[0], owner[1])],
        },
        "spec": {"containers": [{"name": "web", "image": "w"}]},
    }  # fmt: skip


def _identity(pod: dict[str, Any]) -> list[Any]:
    proxy = next(c for c in pod["spec"]["containers"] if c["name"] == "istio-proxy")
    env = [e for e in proxy["env"] if e["name"] in ("ISTIO_META_WORKLOAD_NAME", "ISTIO_META_OWNER")]
    labels = {
        k: v for k, v in pod["metadata"]["labels"].items() if k.startswith("service.istio.io/")
    }
    return [env, labels]


@pytest.mark.parametrize(
    ("kind", "api"),
    [
        ("Deployment", "apps/v1"),
        ("CronJob", "batch/v1"),
        ("DaemonSet", "apps/v1"),
        ("Job", "batch/v1"),
    ],
)
def test_offline_and_webhook_name_the_workload_alike(engine: Engine, kind: str, api: str) -> None:
    text, _ = workloads.inject_text(yaml.safe_dump(_deployment(kind, api)), engine)
    document = yaml.safe_load(text)
    path = (
        ("spec", "jobTemplate", "spec", "template") if kind == "CronJob" else ("spec", "template")
    )
    for key in path:
        document = document[key]
    pod = _as_controller_makes_it(kind)
    answer = handler.handle(support.review(pod, namespace="shop"), engine=engine).answer
    webhook = support.apply(pod, answer)
    assert _identity(webhook) == _identity(document)
    assert _identity(webhook)[0][0]["value"] == "web"
    # The rest of the injected Pod is the same through both paths too.
    assert webhook["spec"] == document["spec"]
    assert webhook["metadata"]["annotations"] == document["metadata"]["annotations"]
