"""Comparing an injected Pod template with Istio's, aspect by aspect.

Pure functions over plain dicts, so the tool's logic is tested without an Istio
checkout (tests/tools/test_istio_corpus.py). Each normalisation below says why the
difference it removes is not a difference in behaviour.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from typing import Any

PROXY = "istio-proxy"
INIT = "istio-init"
STATUS = "sidecar.istio.io/status"
# Istio's record of the fields a Pod's own istio-proxy/istio-init declared, for its
# re-injection; this injector records them in its status annotation instead.
OVERRIDES = "proxy.istio.io/overrides"
PROBES = ("readinessProbe", "livenessProbe", "startupProbe")
# Env values that carry JSON: Go's encoder escapes <, > and & and lays ports out on
# lines; the agent parses them, so they are compared as parsed JSON.
JSON_ENV = frozenset(
    {"ISTIO_META_POD_PORTS", "ISTIO_KUBE_APP_PROBERS", "ISTIO_PROMETHEUS_ANNOTATIONS"}
)

Pod = Mapping[str, Any]


def _containers(pod: Pod, key: str = "containers") -> dict[str, dict[str, Any]]:
    return {c.get("name", ""): c for c in (pod.get("spec") or {}).get(key) or []}


def _proxy(pod: Pod) -> dict[str, Any]:
    # A native sidecar proxy sits among the init containers.
    return _containers(pod).get(PROXY) or _containers(pod, "initContainers").get(PROXY) or {}


def _env_item(item: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(item)
    # Go omits an empty value (omitempty): no value and "" are the same variable.
    if out.get("value") in ("", None):
        out.pop("value", None)
    value = out.get("value")
    # PROXY_CONFIG is JSON too, which Istio renders as a YAML block scalar with a final
    # newline.
    if isinstance(value, str) and out.get("name") in {*JSON_ENV, "PROXY_CONFIG"}:
        with contextlib.suppress(ValueError):
            out["value"] = json.loads(value)
    source = out.get("valueFrom") or {}
    field = source.get("resourceFieldRef")
    if isinstance(field, dict) and str(field.get("divisor")) in ("0", "1"):
        # Go writes the zero Quantity as divisor "0"; the API treats it as the default (1).
        out["valueFrom"] = {**source, "resourceFieldRef": {
            k: v for k, v in field.items() if k != "divisor"}}  # fmt: skip
    return out


def _volume(volume: Mapping[str, Any]) -> dict[str, Any]:
    # A volume without a source (Istio's `emptyDir:` with no value) is defaulted by the
    # API server to emptyDir {}.
    if set(volume) == {"name"}:
        return {"name": volume["name"], "emptyDir": {}}
    return dict(volume)


def pod_labels(pod: Pod) -> Any:
    return (pod.get("metadata") or {}).get("labels") or {}


def pod_annotations(pod: Pod) -> Any:
    found = dict((pod.get("metadata") or {}).get("annotations") or {})
    # The status annotation differs by design (ours carries more keys); Istio's own
    # webhook test removes it before comparing too.
    found.pop(STATUS, None)
    found.pop(OVERRIDES, None)
    return found


def app_probes(pod: Pod) -> Any:
    spec = pod.get("spec") or {}
    containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    return {
        c.get("name"): {probe: c.get(probe) for probe in PROBES if c.get(probe) is not None}
        for c in containers
        if c.get("name") != PROXY
    }


def proxy_env(pod: Pod) -> Any:
    return [_env_item(item) for item in _proxy(pod).get("env") or []]


def proxy_args(pod: Pod) -> Any:
    return _proxy(pod).get("args")


def init_args(pod: Pod) -> Any:
    return _containers(pod, "initContainers").get(INIT, {}).get("args")


def mounts_and_volumes(pod: Pod) -> Any:
    # Pod volumes are a set keyed by name (their order has no effect); mounts keep theirs,
    # since a mount inside another mount's path depends on it.
    volumes = sorted(
        (_volume(v) for v in (pod.get("spec") or {}).get("volumes") or []),
        key=lambda v: str(v.get("name")),
    )
    return {"mounts": _proxy(pod).get("volumeMounts"), "volumes": volumes}


def ports_and_security(pod: Pod) -> Any:
    proxy = _proxy(pod)
    return {"ports": proxy.get("ports"), "securityContext": proxy.get("securityContext")}


ASPECTS: dict[str, Callable[[Pod], Any]] = {
    "labels": pod_labels,
    "annotations": pod_annotations,
    "app probes": app_probes,
    "proxy env": proxy_env,
    "proxy args": proxy_args,
    "init args": init_args,
    "mounts and volumes": mounts_and_volumes,
    "proxy ports and securityContext": ports_and_security,
}


def _describe(ours: Any, theirs: Any) -> str:
    if isinstance(ours, dict) and isinstance(theirs, dict):
        keys = sorted(set(ours) | set(theirs), key=str)
        parts = [
            f"{key}: ours={json.dumps(ours.get(key))} istio={json.dumps(theirs.get(key))}"
            for key in keys
            if ours.get(key) != theirs.get(key)
        ]
        return "; ".join(parts)
    if isinstance(ours, list) and isinstance(theirs, list):
        only_ours = [item for item in ours if item not in theirs]
        only_theirs = [item for item in theirs if item not in ours]
        if not only_ours and not only_theirs:
            return "same items, other order"
        return f"only ours={json.dumps(only_ours)} only istio={json.dumps(only_theirs)}"
    return f"ours={json.dumps(ours)} istio={json.dumps(theirs)}"


def compare(ours: Pod, theirs: Pod) -> dict[str, str | None]:
    """Per aspect: None when both Pods agree, else a one-line description."""
    result: dict[str, str | None] = {}
    for aspect, view in ASPECTS.items():
        mine, istio = view(ours), view(theirs)
        if aspect == "app probes":
            # The app's containers are those both Pods have: a container only one
            # injector adds (istio-init, enable-core-dump) is not an app's.
            shared = set(mine) & set(istio)
            mine, istio = ({k: v for k, v in d.items() if k in shared} for d in (mine, istio))
        result[aspect] = None if mine == istio else _describe(mine, istio)
    return result


def injected(pod: Pod) -> bool:
    """Whether an injector added its proxy (a Pod's own declared istio-proxy does not
    count: the status annotation is what says a Pod was injected)."""
    return STATUS in ((pod.get("metadata") or {}).get("annotations") or {})


def pod_templates(document: Any) -> list[dict[str, Any]]:
    """The Pod templates of one YAML document (a List gives those of its items)."""
    if not isinstance(document, dict):
        return []
    kind = document.get("kind")
    if kind == "List":
        return [pod for item in document.get("items") or [] for pod in pod_templates(item)]
    if kind == "Pod":
        return [document]
    spec = document.get("spec") or {}
    if kind == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    template = spec.get("template")
    return [template] if isinstance(template, dict) else []
