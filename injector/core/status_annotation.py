"""The `sidecar.istio.io/status` annotation: what was injected, written as Istio 1.20.8
writes it (its five keys first, in its order, `null` for an empty list as Go writes a nil
one), then ours: the configuration hash `audit` compares, whether the proxy is native,
the namespace defaults that applied, and what the Pod declared itself.

Istio reads the annotation into a struct that ignores keys it does not know, so the extra
keys are safe for its tools.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from injector.core import declared, names

# kube-apiserver refuses an object whose annotations exceed 256 KiB in total.
ANNOTATION_SIZE_LIMIT = 256 * 1024


def build(
    *,
    proxy_name: str | None,
    init_name: str | None,
    volumes: Sequence[Mapping[str, Any]],
    native: bool,
    effective: Mapping[str, str],
    spec: Mapping[str, Any],
    revision: str,
    config_hash: str,
    pull_secrets: Sequence[str] = (),
) -> str:
    """The annotation's value for a Pod given these containers (None: not injected) and
    `volumes`."""
    present = {c.get("name") for key in ("containers", "initContainers")
               for c in spec.get(key) or []}  # fmt: skip
    inits = [] if init_name is None else [init_name]
    proxies = [] if proxy_name is None else [proxy_name]
    status: dict[str, Any] = {
        "initContainers": [*inits, *proxies] if native else (inits or None),
        "containers": None if native else (proxies or None),
        "volumes": [volume["name"] for volume in volumes],
        "imagePullSecrets": list(pull_secrets) or None,
        "revision": revision,
        "configHash": config_hash,
        "native": native,
        "values": {k: effective[k] for k in names.INHERITABLE_ANNOTATIONS if k in effective},
    }
    merged = sorted(declared.DECLARABLE.intersection(present).intersection([*inits, *proxies]))
    if merged:
        # What the Pod declared itself, merged over the injected containers.
        status["declared"] = merged
    return orjson.dumps(status).decode()


def fits(annotations: Mapping[str, str], status: str) -> bool:
    """Whether the Pod's annotations still fit kube-apiserver's limit with `status`."""
    held = sum(len(k.encode()) + len(v.encode()) for k, v in annotations.items())
    return held + len(names.STATUS) + len(status) <= ANNOTATION_SIZE_LIMIT
