"""The ServiceAccount token mount our containers carry, so the API server adds nothing.

kube-apiserver runs its built-in admission again after the mutating webhooks. Its
ServiceAccount plugin (kubernetes `plugin/pkg/admission/serviceaccount/admission.go`,
`mountServiceAccountToken`) then appends the Pod's token mount to every container and
init container that has no volumeMount at /var/run/secrets/kubernetes.io/serviceaccount,
ours included. That changes the object after our call, so under `reinvocationPolicy:
IfNeeded` we would be called a second time for every Pod. The plugin ran before the
webhooks, so the Pod we receive already carries its volume (`kube-api-access-*`) and the
app containers its mount: our containers get that same mount, and the plugin skips them.
A Pod without it (automountServiceAccountToken: false) gets nothing: the plugin adds
nothing to it either.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from injector.core import names


def token_mount(spec: Mapping[str, Any]) -> dict[str, Any] | None:
    """The app containers' mount of the plugin's token volume, or None when they have none.

    Only a mount of a `kube-api-access-*` volume of the Pod counts: a volume of the
    user's own at that path is not handed to the proxy."""
    for key in ("containers", "initContainers"):
        for container in spec.get(key) or []:
            mount = _at_path(container.get("volumeMounts"))
            if mount is not None and _plugins_volume(spec, mount.get("name")):
                return dict(mount)
    return None


def _at_path(mounts: Any) -> Mapping[str, Any] | None:
    for mount in mounts if isinstance(mounts, list) else []:
        if isinstance(mount, dict) and mount.get("mountPath") == names.SERVICE_ACCOUNT_MOUNT_PATH:
            return mount
    return None


def _plugins_volume(spec: Mapping[str, Any], name: Any) -> bool:
    if not (isinstance(name, str) and name.startswith(names.SERVICE_ACCOUNT_VOLUME_PREFIX)):
        return False
    return any(isinstance(v, dict) and v.get("name") == name for v in spec.get("volumes") or [])


def with_mount(container: dict[str, Any], mount: Mapping[str, Any] | None) -> dict[str, Any]:
    """The container (a copy the caller owns) with `mount` appended, unless it has a
    mount at the token's path already (the plugin's own test)."""
    if mount is None:
        return container
    mounts = container.get("volumeMounts") or []
    if any(m.get("mountPath") == names.SERVICE_ACCOUNT_MOUNT_PATH for m in mounts):
        return container
    container["volumeMounts"] = [*mounts, dict(mount)]
    return container
