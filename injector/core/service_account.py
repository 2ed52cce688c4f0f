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
    volumes = {
        v.get("name")
        for v in spec.get("volumes") or []
        if isinstance(v, dict)
        and str(v.get("name", "")).startswith(names.SERVICE_ACCOUNT_VOLUME_PREFIX)
    }
    if not volumes:
        return None
    path = names.SERVICE_ACCOUNT_MOUNT_PATH
    for key in ("containers", "initContainers"):
        for container in spec.get(key) or []:
            mounts = container.get("volumeMounts")
            at_path = [
                m
                for m in (mounts if isinstance(mounts, list) else [])
                if isinstance(m, dict) and m.get("mountPath") == path
            ]
            if at_path and at_path[0].get("name") in volumes:
                return dict(at_path[0])
    return None


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
