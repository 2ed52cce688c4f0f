"""The injected Pod: the rendered sidecar placed into a mutated COPY of the Pod.

Istio 1.20.8's order is kept: the rendered proxy gets its per-Pod env (PROXY_CONFIG, the
workload identity, proxyMetadata), then what the Pod declared is merged over the injected
containers, then post-processing runs: Prometheus merge, app probe rewriting, labels and
annotations, container order. The input is never changed: only the parts that change are
copied (the rest is shared with the input, which also lets `patch.diff` skip them).

Order in the Pod:
- classic sidecar: user init containers keep their order and `istio-init` runs last, so
  they are not cut off from the network before the proxy runs; the proxy is the last
  container (the first when the app must wait for it, holdApplicationUntilProxyStarts);
- native sidecar: `istio-init` then the proxy (with `restartPolicy: Always`) run first,
  so user init containers already have the mesh.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from injector.core import (
    cni,
    declared,
    mesh_metadata,
    names,
    probes,
    prometheus,
    service_account,
)
from injector.core import patch as patch_ops
from injector.core.config import Config, Mesh
from injector.core.proxy_config import ProxyConfig
from injector.core.workload_identity import Workload

Pod = dict[str, Any]
# Istio's cluster name when the values give none.
DEFAULT_CLUSTER_ID = "Kubernetes"
# Istio's postStart hook: the app containers start once the proxy is ready.
WAIT_FOR_PROXY = {"postStart": {"exec": {"command": ["pilot-agent", "wait"]}}}
# The rendered proxy env entries that change per Pod, or place the workload identity.
_PER_POD_ENV = frozenset(
    {names.ENV_MESH_ID, names.ENV_PROXY_CONFIG, names.ENV_APP_CONTAINERS, names.ENV_TRUST_DOMAIN}
)
Metadata = Callable[[Mapping[str, Any]], dict[str, dict[str, str]]]


@dataclass(frozen=True)
class Sidecar:
    """What is injected into one Pod, rendered and resolved."""

    # The proxy with its per-Pod env (`proxy`, or a render plan's), None for a template
    # without a proxy (grpc-simple); the init container with its env (`init`).
    proxy: Mapping[str, Any] | None
    init: Mapping[str, Any] | None
    volumes: list[dict[str, Any]]
    # Pod sysctls the template needs (the gateway's unprivileged ports), added by name.
    sysctls: list[dict[str, Any]]
    # The gateway template: its own rules for the mesh labels and default containers.
    gateway: bool
    native: bool
    # The apps wait for the proxy (holdApplicationUntilProxyStarts): it goes first.
    hold: bool
    # The settings' placeholder values. A render plan's hold markers for the per-Pod
    # ones (`overrides.POD_VALUES`): read those from the Pod.
    values: Mapping[str, Any]
    status: str
    workload: Workload
    # What every app container gets (env, volumeMounts), from a template's "*".
    app: Mapping[str, Any] | None = None
    # The template's own labels and annotations, for a Pod's metadata values; None: the
    # sidecar's (mesh_metadata).
    metadata: Metadata | None = None


def proxy(
    rendered: Mapping[str, Any],
    *,
    proxy_config: ProxyConfig,
    identity: list[dict[str, Any]],
    hold: bool,
) -> dict[str, Any]:
    """The rendered proxy with its per-Pod env: PROXY_CONFIG, the workload `identity`
    before the mesh id, proxyMetadata after the trust domain (a copy: renders are shared).
    """
    env: list[dict[str, Any]] = []
    metadata = proxy_config.metadata_env()
    for item in rendered.get("env") or []:
        name = item.get("name")
        if name not in _PER_POD_ENV:  # most entries: one lookup, kept as rendered
            env.append(item)
        elif name == names.ENV_PROXY_CONFIG:
            env.append({"name": names.ENV_PROXY_CONFIG, "value": proxy_config.env_value})
        elif name == names.ENV_APP_CONTAINERS and not item.get("value"):
            env.append({"name": names.ENV_APP_CONTAINERS})  # Istio leaves an empty value out
        elif name == names.ENV_TRUST_DOMAIN:
            env += [item, *metadata]  # proxyMetadata follows the trust domain
            metadata = []
        else:
            if name == names.ENV_MESH_ID:
                env += identity
                identity = []
            env.append(item)
    env += identity + metadata
    found = {**rendered, "env": env}
    if hold and "lifecycle" not in found:  # grpc-agent's template waits on its own
        found["lifecycle"] = WAIT_FOR_PROXY
    return found


def init(rendered: Mapping[str, Any] | None, proxy_config: ProxyConfig) -> Mapping[str, Any] | None:
    """The rendered init container with proxyMetadata as its env, if there is any."""
    if rendered is None or not proxy_config.metadata:
        return rendered
    return {**rendered, "env": proxy_config.metadata_env()}


def _with_declared(
    containers: list[Pod], inits: list[Pod], proxy: Pod | None, init: Pod | None
) -> tuple[list[Pod], list[Pod], Pod | None, Pod | None, dict[str, list[Pod]]]:
    """Merge what the Pod declares over the injected containers, taking them out of the
    Pod's lists (they are placed again like injected ones)."""
    found: dict[str, list[Pod]] = {"containers": [], "initContainers": []}
    if not any(c.get("name") in declared.DECLARABLE for c in (*containers, *inits)):
        return containers, inits, proxy, init, found
    for name in sorted(declared.DECLARABLE):
        if (init if name == names.INIT_CONTAINER else proxy) is None:
            continue  # nothing injected to merge over: the Pod's own container
        # istio-init is declared among the init containers only (policy skips others).
        in_containers, containers = (
            declared.take(containers, name) if name == names.PROXY_CONTAINER else ([], containers)
        )
        in_inits, inits = declared.take(inits, name)
        for item in [*in_inits, *in_containers]:
            if name == names.PROXY_CONTAINER and proxy is not None:
                proxy = declared.merge(proxy, item)
            elif name == names.INIT_CONTAINER and init is not None:
                init = declared.merge(init, item)
        found["containers"] += map(declared.without_auto_image, in_containers)
        found["initContainers"] += map(declared.without_auto_image, in_inits)
    return containers, inits, proxy, init, found


def _declared_user(
    spec: Mapping[str, Any], proxy: Pod | None, init: Pod | None, values: Mapping[str, Any]
) -> tuple[Pod | None, Pod | None]:
    """A declared proxy's runAsUser moves istio-init's `-u` to it (Istio 1.20.8's
    adjustInitContainerUser); under TPROXY the proxy itself still runs as root."""
    user = declared.proxy_user(spec)
    if user is None:
        return proxy, init
    if init is not None:
        init = declared.with_user(init, user)
    if proxy is not None and values.get("proxy.interceptionMode") == "TPROXY":
        proxy = {
            **proxy,
            "securityContext": {**(proxy.get("securityContext") or {}), "runAsUser": 0},
        }
    return proxy, init


def build(pod: Mapping[str, Any], sidecar: Sidecar, config: Config) -> Pod:
    """The Pod with the sidecar injected, as a new object sharing unchanged parts."""
    metadata, spec = compose(pod, sidecar, config)
    return {
        **pod,
        "metadata": {**(pod.get("metadata") or {}), **metadata},
        "spec": {**pod["spec"], **spec},
    }


def patch(
    pod: Mapping[str, Any],
    sidecar: Sidecar,
    config: Config,
    volumes: patch_ops.Appended | None = None,
) -> list[Any]:
    """The JSON Patch that injects the sidecar, emitted from the fields it sets (the
    operations `patch.diff(pod, build(...))` gives, without building the Pod).
    `volumes`: the operations of `sidecar.volumes`, serialized already."""
    metadata, spec = compose(pod, sidecar, config)
    if volumes is not None:
        spec["volumes"] = volumes
    return patch_ops.changes(pod, {"metadata": metadata, "spec": spec})


def compose(
    pod: Mapping[str, Any], sidecar: Sidecar, config: Config
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fields injection sets in the Pod's metadata and in its spec, each in the order
    they are set; what they replace is not changed."""
    metadata = pod.get("metadata") or {}
    labels = dict(metadata.get("labels") or {})
    annotations = dict(metadata.get("annotations") or {})
    spec = pod["spec"]
    mesh = config.mesh
    hold = sidecar.hold
    token = service_account.token_mount(spec)
    init = None if sidecar.init is None else dict(sidecar.init)
    containers, inits, proxy, init, found = _with_declared(
        list(spec["containers"]), list(spec.get("initContainers") or []),
        None if sidecar.proxy is None else service_account.with_mount(dict(sidecar.proxy), token),
        None if init is None else service_account.with_mount(init, token),
    )  # fmt: skip
    if found["containers"] or found["initContainers"]:
        proxy, init = _declared_user(spec, proxy, init, sidecar.values)
    if sidecar.app is not None:
        found["containers"] += containers
        containers = [declared.with_additions(c, sidecar.app) for c in containers]
    app = [c["name"] for c in containers]
    if sidecar.metadata is not None:
        # The template's own labels and annotations, before the switches that read them.
        own = sidecar.metadata(
            mesh_metadata.template_values(
                labels, annotations, workload_name=sidecar.workload.name, app_containers=app,
                revision=str(sidecar.values.get("revision", "default")),
            )
        )  # fmt: skip
        labels.update(own["labels"])
        annotations.update(own["annotations"])
    scrape = prometheus.merge(annotations, enabled=mesh.enablePrometheusMerge)
    if proxy is not None:
        # Istio rewrites every init container's probes after the merge, istio-init's too.
        own_init = [] if init is None else [init]
        proxy["env"] = _proxy_env(
            proxy, scrape=scrape, labels=labels, annotations=annotations,
            probed=(containers, inits, own_init), sidecar=sidecar, config=config,
        )  # fmt: skip
        init = own_init[0] if own_init else None
    if sidecar.metadata is None:
        _mesh_metadata(labels, annotations, sidecar, app)
    if config.cni.enabled and init is not None:
        chained = config.cni.chained
        annotations.update(cni.pod_annotations(annotations, init["args"], chained=chained))
        init = cni.validation(init, config.proxy.uid)
    if any(found.values()) and names.STATUS not in annotations:
        annotations[names.PROXY_OVERRIDES] = declared.overrides_annotation(found)
    annotations[names.STATUS] = sidecar.status
    meta_fields: dict[str, Any] = {}
    if labels or "labels" in metadata:  # grpc-simple adds none
        meta_fields["labels"] = labels
    meta_fields["annotations"] = annotations
    spec_fields: dict[str, Any] = {}
    _place(spec_fields, containers, inits, proxy, init, native=sidecar.native, hold=hold)
    spec_fields["volumes"] = [*(spec.get("volumes") or []), *sidecar.volumes]
    if config.proxy.imagePullSecrets:
        spec_fields["imagePullSecrets"] = _pull_secrets(spec, config.proxy.imagePullSecrets)
    if sidecar.sysctls:
        spec_fields["securityContext"] = _with_sysctls(spec.get("securityContext"), sidecar.sysctls)
    return meta_fields, spec_fields


def _proxy_env(
    proxy: Pod, *, scrape: dict[str, Any] | None, labels: dict[str, str],
    annotations: Mapping[str, str], probed: tuple[list[Pod], ...], sidecar: Sidecar,
    config: Config,
) -> list[dict[str, Any]]:  # fmt: skip
    """The proxy's env with the cluster and network last, the Prometheus merge and the app
    probes it replays (the probes are rewritten in the `probed` lists, which the caller
    owns)."""
    env = _cluster_env(labels, list(proxy.get("env") or []), config.mesh)
    if scrape is not None:
        env.append(scrape)
    status_port = int(sidecar.values.get("proxy.statusPort", probes.MESH_STATUS_PORT))
    default = config.mesh.rewriteAppHTTPProbers
    if probes.enabled(annotations, default=default, status_port=status_port):
        probers: dict[str, Any] = {}
        for items in probed:
            probes.rewrite(items, status_port=status_port, probers=probers)
        probes.merge_env(env, probers)
    return env


def _mesh_metadata(
    labels: dict[str, str], annotations: dict[str, str], sidecar: Sidecar, app: list[str]
) -> None:
    """The sidecar's (or the gateway's) labels and annotations, set in place."""
    labels.update(
        mesh_metadata.mesh_labels(
            labels, workload_name=sidecar.workload.name, gateway=sidecar.gateway
        )
    )
    annotations.update(
        mesh_metadata.pod_annotations(
            annotations,
            app_containers=app,
            revision=str(sidecar.values.get("revision", "default")),
            gateway=sidecar.gateway,
        )
    )


def _cluster_env(labels: dict[str, Any], env: list[dict[str, Any]], mesh: Mesh) -> list[Any]:
    """The proxy env with the cluster (when not the default) and the network (the Pod's
    own label, else the configured one) moved to its end, sorted by name: Istio 1.20.8
    sets them last (its overwriteClusterInfo), before the Prometheus and probe env. The
    network is also the Pod's topology.istio.io/network label."""
    moved = {}
    if mesh.clusterId != DEFAULT_CLUSTER_ID:
        moved[names.ENV_CLUSTER_ID] = mesh.clusterId
    network = labels.get(names.TOPOLOGY_NETWORK) or mesh.network
    if network:
        labels[names.TOPOLOGY_NETWORK] = moved[names.ENV_NETWORK] = str(network)
    if not moved:
        return env
    kept = [item for item in env if item.get("name") not in moved]
    return kept + [{"name": name, "value": moved[name]} for name in sorted(moved)]


def _pull_secrets(spec: Mapping[str, Any], secrets: tuple[str, ...]) -> list[Any]:
    """The configured pull secrets, then the Pod's own that are not among them (Istio
    1.20.8's order)."""
    own = [s for s in spec.get("imagePullSecrets") or [] if s.get("name") not in secrets]
    return [*({"name": name} for name in secrets), *own]


def _with_sysctls(context: Any, sysctls: list[dict[str, Any]]) -> Any:
    """The Pod's securityContext with the sysctls it does not set yet. (Istio's gateway
    template replaces the Pod's whole list; adding by name keeps what the Pod chose.)"""
    context = dict(context or {})
    present = context.get("sysctls")
    if present is None:
        context["sysctls"] = list(sysctls)
    elif isinstance(present, list):
        have = {item.get("name") for item in present if isinstance(item, dict)}
        context["sysctls"] = [*present, *(s for s in sysctls if s.get("name") not in have)]
    return context


def _place(
    spec: Pod, containers: list[Pod], inits: list[Pod], proxy: Pod | None, init: Pod | None,
    *, native: bool, hold: bool,
) -> None:  # fmt: skip
    ours = [] if init is None else [init]
    if proxy is None:
        spec["containers"] = containers
        if inits or ours:
            spec["initContainers"] = [*inits, *ours]
        return
    if native:
        spec["initContainers"] = [*ours, {**proxy, "restartPolicy": "Always"}, *inits]
        spec["containers"] = containers
        return
    spec["containers"] = [proxy, *containers] if hold else [*containers, proxy]
    if inits or ours:
        spec["initContainers"] = [*inits, *ours]


def _app_containers_env(env: list[dict[str, Any]], app: list[str]) -> None:
    value = ",".join(app)
    for index, item in enumerate(env):
        if item.get("name") == names.ENV_APP_CONTAINERS and item.get("value", "") != value:
            env[index] = {"name": names.ENV_APP_CONTAINERS, "value": value}


def reinvoke(
    pod: Mapping[str, Any], *, annotations: Mapping[str, str], default: bool, status_port: int
) -> Pod | None:
    """An injected Pod seen again (reinvocation, istio#36353): a copy in which the app
    containers added since (by another webhook) are covered too, or None if none were."""
    spec = dict(pod["spec"])
    lists = {key: list(spec.get(key) or []) for key in ("containers", "initContainers")}
    where = next(
        ((key, i) for key, items in lists.items() for i, c in enumerate(items)
         if c.get("name") == names.PROXY_CONTAINER),
        None,
    )  # fmt: skip
    if where is None:
        return None
    probers: dict[str, Any] = {}
    if probes.enabled(annotations, default=default, status_port=status_port):
        for items in lists.values():
            probes.rewrite(items, status_port=status_port, probers=probers)
    proxy = lists[where[0]][where[1]]
    env = list(proxy.get("env") or [])
    probes.merge_env(env, probers)
    app = [c["name"] for c in lists["containers"] if c.get("name") != names.PROXY_CONTAINER]
    _app_containers_env(env, app)
    moved = any(
        a is not b
        for key, items in lists.items()
        for a, b in zip(items, spec.get(key) or [], strict=False)
    )
    if env == (proxy.get("env") or []) and not moved:
        return None
    lists[where[0]][where[1]] = {**proxy, "env": env}
    for key, items in lists.items():
        if spec.get(key) is not None or items:
            spec[key] = items
    return {**pod, "spec": spec}
