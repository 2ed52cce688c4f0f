"""`proxy.mountMtlsCerts` (Istio's values.global.mountMtlsCerts): the proxy reads its
mTLS key and certificate from a Secret mounted at /etc/certs/ (Istio's older, file-based
certificates), as Istio 1.20.8's templates add it.

The Secret is `istio.<the Pod's service account>` (`istio.default` without one), mounted
read-only and optional, so a Pod whose Secret does not exist still starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

VOLUME = "istio-certs"
MOUNT = {"mountPath": "/etc/certs/", "name": VOLUME, "readOnly": True}
# The mount goes after the token's, the volume after the CA's, as in Istio's templates.
_MOUNT_AFTER = "istio-token"
_VOLUME_AFTER = "istiod-ca-cert"


def _after(items: list[Any], name: str, item: Mapping[str, Any]) -> list[Any]:
    at = next((i + 1 for i, x in enumerate(items) if x.get("name") == name), len(items))
    return [*items[:at], item, *items[at:]]


def volume(spec: Mapping[str, Any]) -> dict[str, Any]:
    account = spec.get("serviceAccountName") or "default"
    return {"name": VOLUME, "secret": {"optional": True, "secretName": f"istio.{account}"}}


def add(rendered: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a render with the Secret's mount and volume (renders are shared)."""
    proxy = dict(rendered["proxy"])
    proxy["volumeMounts"] = _after(list(proxy.get("volumeMounts") or []), _MOUNT_AFTER, MOUNT)
    volumes = _after(list(rendered["volumes"]), _VOLUME_AFTER, volume(spec))
    return {**rendered, "proxy": proxy, "volumes": volumes}
