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

from injector.core import grammar

PROXY = "istio-proxy"
INIT = "istio-init"
# The init container that only checks the redirect when Istio's CNI plugin does it.
VALIDATION = "istio-validation"
# The containers an injector adds (the others are the application's).
INJECTED = frozenset({PROXY, INIT, VALIDATION, "enable-core-dump"})
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
        if c.get("name") not in INJECTED
    }


def proxy_env(pod: Pod) -> Any:
    return [_env_item(item) for item in _proxy(pod).get("env") or []]


def proxy_args(pod: Pod) -> Any:
    return _proxy(pod).get("args")


def _init(pod: Pod) -> dict[str, Any]:
    found = _containers(pod, "initContainers")
    return found.get(INIT) or found.get(VALIDATION) or {}


def init_args(pod: Pod) -> Any:
    return _init(pod).get("args")


def mounts_and_volumes(pod: Pod) -> Any:
    # Pod volumes are a set keyed by name (their order has no effect); mounts keep theirs,
    # since a mount inside another mount's path depends on it.
    volumes = sorted(
        (_volume(v) for v in (pod.get("spec") or {}).get("volumes") or []),
        key=lambda v: str(v.get("name")),
    )
    return {"mounts": _proxy(pod).get("volumeMounts"), "volumes": volumes}


# The proxy's fields compared by the other aspects.
_ELSEWHERE = frozenset({"name", "image", "imagePullPolicy", "env", "args", "volumeMounts"})


def _quantity(value: Any) -> str:
    """A quantity as its value in plain digits (2000m and 2 are both "2")."""
    return format(grammar.parse_quantity(str(value)).normalize(), "f")


def _quantities(resources: Any) -> Any:
    """Resources with each quantity as its value: Go writes 2000m as 2 and 1024Mi as 1Gi;
    an empty `resources: {}` is no resources."""
    if not isinstance(resources, dict):
        return resources
    out = {}
    for part, values in resources.items():
        if values:
            out[part] = {k: _quantity(v) for k, v in values.items()}
    return out or None


def proxy_spec(pod: Pod) -> Any:
    """The proxy container's other fields: ports, probes, securityContext, resources,
    lifecycle, restartPolicy (native)."""
    spec = {k: v for k, v in _proxy(pod).items() if k not in _ELSEWHERE}
    spec["resources"] = _quantities(spec.get("resources"))
    for probe in PROBES:
        if isinstance(spec.get(probe), dict) and spec[probe].get("initialDelaySeconds") == 0:
            # Go writes initialDelaySeconds: 0; it is the API's default (omitted).
            spec[probe] = {k: v for k, v in spec[probe].items() if k != "initialDelaySeconds"}
    return spec


def _injected(pod: Pod) -> dict[str, dict[str, Any]]:
    spec = pod.get("spec") or {}
    every = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    return {c.get("name", ""): c for c in every if c.get("name") in INJECTED}


def images(pod: Pod) -> Any:
    return {name: c.get("image") for name, c in _injected(pod).items()}


def pull_policy(pod: Pod) -> Any:
    return {name: c.get("imagePullPolicy") for name, c in _injected(pod).items()}


# Aspects compared over the injected containers both Pods have: a container only one
# side has shows once, under `images`.
_SHARED_CONTAINERS = frozenset({"pull policy"})


def pull_secrets(pod: Pod) -> Any:
    return (pod.get("spec") or {}).get("imagePullSecrets") or []


ASPECTS: dict[str, Callable[[Pod], Any]] = {
    "labels": pod_labels,
    "annotations": pod_annotations,
    "app probes": app_probes,
    "proxy env": proxy_env,
    "proxy args": proxy_args,
    "init args": init_args,
    "mounts and volumes": mounts_and_volumes,
    "proxy spec": proxy_spec,
    "images": images,
    "pull policy": pull_policy,
    "pull secrets": pull_secrets,
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
        if aspect in _SHARED_CONTAINERS:
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
        return _cronjob_template(spec.get("jobTemplate") or {})
    template = spec.get("template")
    return [template] if isinstance(template, dict) else []


def _cronjob_template(job: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A CronJob's Pod template. istioctl kube-inject writes the labels and annotations of
    a batch/v2alpha1 CronJob on its jobTemplate instead (Istio's test runs that case
    through kube-inject only); they are taken as the Pod's when the Pod has none, so that
    the sidecar itself is compared."""
    template = (job.get("spec") or {}).get("template")
    if not isinstance(template, dict):
        return []
    lifted = job.get("metadata") or {}
    if STATUS not in (lifted.get("annotations") or {}) or injected(template):
        return [template]
    meta = {**(template.get("metadata") or {})}
    for key in ("labels", "annotations"):
        meta[key] = {**(lifted.get(key) or {}), **(meta.get(key) or {})}
    return [{**template, "metadata": meta}]
