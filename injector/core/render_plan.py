"""The render plan: what one set of settings injects, rendered once, its per-Pod slots marked.

Of what the template gives a Pod, very little comes from the Pod: its containers' ports
and app names (the `pod.ports` and `pod.appContainers` placeholders) and its workload
(`ISTIO_META_WORKLOAD_NAME`, `ISTIO_META_OWNER`). The rest (the proxy and init
containers, the volumes, the sysctls) follows from the settings: the template, the
configuration, the shaping annotations and the ProxyConfig. So the engine keeps one plan
per settings key, bounded in bytes like its other memos and built again with the engine
when the settings change, and per Pod fills only the slots:

- the template is rendered with a marker for each per-Pod value, and the proxy gets its
  settings' env (PROXY_CONFIG, proxyMetadata, the hold hook) around a marker for the
  workload's entries, exactly as `sidecar_pod.proxy` gives it;
- the env entries whose value holds a marker are the slots; the Pod's values are put in
  their place (an empty app list leaves the value out, as Istio does);
- the operations that append the volumes are serialized once (`patch.Appended`). The
  rest of the patch is serialized per Pod: splicing pre-serialized parts of the proxy
  around its per-Pod env and mounts measured slower than orjson serializing it.

What the Pod's own containers, labels and annotations get (rewritten probes, the
Prometheus merge, the mesh labels, the status) is per-Pod work in `sidecar_pod`, which
emits the patch from the fields it sets.

A template that puts a per-Pod value anywhere but the value of a proxy env entry (a
custom template may put it in an argument), or settings that contain a marker's text,
get no plan: such a Pod is rendered whole, as without plans.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from injector.core import names, patch, sidecar_pod
from injector.core.overrides import POD_VALUES
from injector.core.proxy_config import ProxyConfig
from injector.core.template import Template

# The marker each per-Pod value is rendered as: a NUL cannot come from a Pod's ports or
# container names, and settings that hold one get no plan.
MARKERS = {name: f"\x00{name}\x00" for name in POD_VALUES}
_PORTS, _APPS = (MARKERS[name] for name in POD_VALUES)
_IDENTITY = {"name": "\x00workload\x00"}
# How a marker's NUL looks in JSON.
_MARKED = b"\\u0000"


@dataclass(frozen=True)
class Plan:
    """One settings key's render, the proxy's env slots marked. Shared: never changed."""

    # The placeholder values of the settings (the per-Pod ones are the markers).
    values: dict[str, Any]
    # {"initContainer", "proxy", "volumes", "sysctls", "app"} as `Template.render` gives.
    rendered: Mapping[str, Any]
    # The proxy with its settings' env (None: the template has none), the workload's
    # marker and the slots in it as rendered.
    proxy: Mapping[str, Any] | None
    # (index in the proxy's env, entry) of each entry whose value holds a marker.
    slots: tuple[tuple[int, dict[str, Any]], ...]
    # Where the workload's entries go in env (None: nowhere, no proxy).
    workload_at: int | None
    # The init container with its settings' env.
    init: Mapping[str, Any] | None
    # The operations that append the volumes, serialized.
    volumes: patch.Appended
    # What the plan holds, roughly, for the memo's bound.
    size: int

    def proxy_for(
        self, values: Mapping[str, str], workload: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        """The proxy of one Pod: the plan's, its slots filled with the Pod's `values`
        (`overrides.pod_values`) and its `workload` entries placed."""
        if self.proxy is None:
            return None
        env = list(self.proxy["env"])
        ports, apps = values["pod.ports"], values["pod.appContainers"]
        for index, entry in self.slots:
            value = entry["value"].replace(_PORTS, ports).replace(_APPS, apps)
            if value or entry.get("name") != names.ENV_APP_CONTAINERS:
                env[index] = {**entry, "value": value}
            else:
                env[index] = {"name": names.ENV_APP_CONTAINERS}  # Istio leaves it out
        if self.workload_at is not None:
            env[self.workload_at : self.workload_at + 1] = workload
        return {**self.proxy, "env": env}


def build(
    template: Template, values: Mapping[str, Any], *, proxy_config: ProxyConfig, hold: bool
) -> Plan | None:
    """The plan for a template and the settings' placeholder `values` (without the
    per-Pod ones); None when the per-Pod values cannot be slots."""
    if _MARKED in orjson.dumps(values):
        return None  # the settings themselves hold a NUL: a marker could not be told apart
    marked = {**values, **MARKERS}
    rendered = template.render(marked)
    raw = rendered["proxy"]
    proxy = None
    env: list[dict[str, Any]] = []
    if raw is not None:
        proxy = sidecar_pod.proxy(raw, proxy_config=proxy_config, identity=[_IDENTITY], hold=hold)
        env = proxy["env"]
    slots = tuple(
        (index, entry)
        for index, entry in enumerate(env)
        if isinstance(entry.get("value"), str) and "\x00" in entry["value"]
    )
    at = {index for index, _ in slots}
    fixed = [e for i, e in enumerate(env) if i not in at and e is not _IDENTITY]
    held = orjson.dumps(
        [
            None if proxy is None else {**proxy, "env": fixed},
            [{k: v for k, v in entry.items() if k != "value"} for _, entry in slots],
            {key: part for key, part in rendered.items() if key != "proxy"},
        ]
    )
    if _MARKED in held:
        return None  # a per-Pod value lands elsewhere: rendered per Pod
    workload_at = next((i for i, entry in enumerate(env) if entry is _IDENTITY), None)
    return Plan(
        values=marked,
        rendered=rendered,
        proxy=proxy,
        slots=slots,
        workload_at=workload_at,
        init=sidecar_pod.init(rendered["initContainer"], proxy_config),
        volumes=patch.Appended.of("/spec/volumes", rendered["volumes"]),
        # The volumes once more, serialized.
        size=len(held) + len(orjson.dumps(values)) + 2 * len(orjson.dumps(rendered["volumes"])),
    )
