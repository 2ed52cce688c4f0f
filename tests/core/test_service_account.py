"""The ServiceAccount token mount: after our patch, kube-apiserver's ServiceAccount
admission plugin has nothing left to add, so the webhook is not called a second time."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import pytest

from injector.core import config_file, names, template
from injector.core.engine import Engine

PATH = names.SERVICE_ACCOUNT_MOUNT_PATH
TOKEN = {"name": "kube-api-access-p9x4t", "readOnly": True, "mountPath": PATH}
TOKEN_VOLUME = {
    "name": "kube-api-access-p9x4t",
    "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]},
}


def _engine() -> Engine:
    cfg = config_file.from_mapping({})
    return Engine(cfg, template.load(cfg.templates))


def _plugin(pod: dict[str, Any]) -> dict[str, Any]:
    """The plugin's mount step as kube-apiserver runs it after the webhooks: every init
    container and container without a mount at the token path gets the token mount."""
    pod = copy.deepcopy(pod)
    for key in ("initContainers", "containers"):
        for container in pod["spec"].get(key) or []:
            mounts = container.setdefault("volumeMounts", [])
            if not any(m["mountPath"] == PATH for m in mounts):
                mounts.append(dict(TOKEN))
    return pod


def _pod(*, token: bool, declared_proxy: bool = False) -> dict[str, Any]:
    mounts = [dict(TOKEN)] if token else []
    containers = [{"name": "app", "image": "app:1", "volumeMounts": mounts}]
    if declared_proxy:
        containers.append({"name": "istio-proxy", "image": "auto", "volumeMounts": [dict(TOKEN)]})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": "app-", "namespace": "shop"},
        "spec": {
            "initContainers": [{"name": "setup", "image": "setup:1", "volumeMounts": list(mounts)}],
            "containers": containers,
            "volumes": [TOKEN_VOLUME] if token else [],
        },
    }


def _inject(pod: dict[str, Any]) -> dict[str, Any]:
    outcome = _engine().inject(pod, namespace="shop", ns=None)
    assert outcome.result == "injected"
    patched: dict[str, Any] = jsonpatch.apply_patch(pod, outcome.ops or [])
    return patched


def _token_mounts(container: dict[str, Any]) -> list[Any]:
    return [m for m in container.get("volumeMounts") or [] if m["mountPath"] == PATH]


@pytest.mark.parametrize(
    "declared_proxy",
    [pytest.param(False, id="injected-proxy"), pytest.param(True, id="declared-proxy")],
)
def test_the_plugin_running_after_the_webhook_changes_nothing(declared_proxy: bool) -> None:
    injected = _inject(_pod(token=True, declared_proxy=declared_proxy))
    assert _plugin(injected) == injected
    for key in ("initContainers", "containers"):
        for container in injected["spec"][key]:
            assert _token_mounts(container) == [TOKEN], container["name"]


def test_without_the_plugins_volume_our_containers_get_no_token() -> None:
    injected = _inject(_pod(token=False))
    ours = [
        c
        for key in ("initContainers", "containers")
        for c in injected["spec"][key]
        if c["name"] in (names.PROXY_CONTAINER, names.INIT_CONTAINER)
    ]
    assert len(ours) == 2
    assert all(_token_mounts(c) == [] for c in ours)


def test_a_users_own_volume_at_the_token_path_is_not_handed_to_the_proxy() -> None:
    pod = _pod(token=False)
    own = {"name": "own-token", "readOnly": True, "mountPath": PATH}
    pod["spec"]["containers"][0]["volumeMounts"] = [own]
    pod["spec"]["volumes"] = [{"name": "own-token", "emptyDir": {}}]
    injected = _inject(pod)
    proxy = next(c for c in injected["spec"]["containers"] if c["name"] == "istio-proxy")
    assert _token_mounts(proxy) == []


def test_the_injected_pod_fed_back_gets_no_patch_and_no_warning() -> None:
    injected = _inject(_pod(token=True))
    again = _engine().inject(_plugin(injected), namespace="shop", ns=None)
    assert (again.result, again.ops, again.warnings) == ("skipped", None, [])
