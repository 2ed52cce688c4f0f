"""Whether a Pod gets the sidecar, and every reason why (or why not).

Each reason is a snake_case code (used in metrics, logs and auditAnnotations) plus a
sentence for people (used in warnings and reports). `decide` returns all the reasons that
apply, not only the first, so an operator sees the whole picture at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from injector.core import declared, grammar, label_selectors, names, revisions
from injector.core.config import Config
from injector.core.revisions import (
    DEFAULT_REVISION_ONLY,
    INJECTION_LABEL_WINS,
    NAMESPACE_REVISION,
    OTHER_REVISION,
    POD_REVISION,
)

# Codes for skipping. Each also appears as a metric label, so the set is closed.
HOST_NETWORK = "host_network"
MIRROR_POD = "mirror_pod"
SYSTEM_NAMESPACE = "system_namespace"
INJECTOR_NAMESPACE = "injector_namespace"
ALREADY_INJECTED = "already_injected"
CONTAINER_NAME_CONFLICT = "container_name_conflict"
VOLUME_NAME_CONFLICT = "volume_name_conflict"
PORT_CONFLICT = "port_conflict"
NAMESPACE_DISABLED = "namespace_disabled"
POD_SECURITY_LEVEL = "pod_security_level"
APP_RUNS_AS_PROXY_UID = "app_runs_as_proxy_uid"
POD_LABEL_DISABLED = "pod_label_disabled"
POD_ANNOTATION_DISABLED = "pod_annotation_disabled"
NEVER_INJECT_SELECTOR = "never_inject_selector"
NAMESPACE_NOT_ENABLED = "namespace_not_enabled"
POLICY_DISABLED = "policy_disabled"
ANNOTATIONS_FULL = "annotation_size_limit"
# Codes for not mutating a call that is not a Pod creation.
NOT_POD_CREATE = "not_pod_create"
# Codes for refusing a Pod.
MALFORMED_POD = "malformed_pod"
INVALID_ANNOTATION = "invalid_annotation"
INTERNAL_ERROR = "internal_error"
# Codes for injecting.
POD_LABEL_ENABLED = "pod_label_enabled"
POD_ANNOTATION_ENABLED = "pod_annotation_enabled"
ALWAYS_INJECT_SELECTOR = "always_inject_selector"
NAMESPACE_ENABLED = "namespace_enabled"
NAMESPACE_SELECTOR_TRUSTED = "namespace_selector_trusted"
# An injected Pod seen again, patched to cover containers added since (istio#36353).
ADDED_CONTAINERS_COVERED = "added_containers_covered"

SENTENCES = {
    HOST_NETWORK: "the Pod uses the node's network (hostNetwork: true)",
    MIRROR_POD: "the Pod is a static (mirror) Pod, which cannot be changed",
    SYSTEM_NAMESPACE: "the namespace is a system namespace",
    INJECTOR_NAMESPACE: "the namespace is the injector's own",
    ALREADY_INJECTED: f"the Pod already carries {names.STATUS}",
    CONTAINER_NAME_CONFLICT: "the Pod already has a container named like an injected one",
    VOLUME_NAME_CONFLICT: "the Pod already has a volume named like an injected one",
    PORT_CONFLICT: "a container declares a port the proxy listens on",
    NAMESPACE_DISABLED: f"the namespace is labelled {names.NAMESPACE_INJECTION_LABEL}=disabled",
    POD_SECURITY_LEVEL: (
        "the namespace enforces Pod Security baseline or restricted, which forbids the"
        " NET_ADMIN/NET_RAW capabilities the traffic redirect needs (without Istio's CNI"
        " plugin)"
    ),
    APP_RUNS_AS_PROXY_UID: "an app container runs as the proxy's user or group id, which the"
    " traffic redirect exempts, so its traffic would bypass the proxy",
    POD_LABEL_DISABLED: f"the Pod is labelled {names.INJECT}=false",
    POD_ANNOTATION_DISABLED: f"the Pod is annotated {names.INJECT}=false",
    NEVER_INJECT_SELECTOR: "the Pod matches neverInjectSelector",
    NAMESPACE_NOT_ENABLED: (
        f"the namespace is not labelled {names.NAMESPACE_INJECTION_LABEL}=enabled"
        " and the Pod did not opt in"
    ),
    POLICY_DISABLED: "the default policy is disabled and the Pod did not opt in",
    ANNOTATIONS_FULL: "the status annotation would push the annotations over 256 KiB",
    NOT_POD_CREATE: "only Pod creation is mutated",
    MALFORMED_POD: "the Pod's structure cannot be patched safely",
    INVALID_ANNOTATION: "an annotation value is invalid",
    INTERNAL_ERROR: "the injector failed unexpectedly",
    POD_LABEL_ENABLED: f"the Pod is labelled {names.INJECT}=true",
    POD_ANNOTATION_ENABLED: f"the Pod is annotated {names.INJECT}=true",
    ALWAYS_INJECT_SELECTOR: "the Pod matches alwaysInjectSelector",
    NAMESPACE_ENABLED: f"the namespace is labelled {names.NAMESPACE_INJECTION_LABEL}=enabled",
    NAMESPACE_SELECTOR_TRUSTED: (
        "the namespace's labels are not known here; the webhook's namespaceSelector matched"
    ),
    NAMESPACE_REVISION: f"the namespace's {names.REVISION} label names this injector's revision",
    POD_REVISION: f"the Pod's {names.REVISION} label names this injector's revision",
    OTHER_REVISION: f"the {names.REVISION} label names a revision this injector does not serve",
    DEFAULT_REVISION_ONLY: (
        f"the Pod is selected without {names.REVISION}, which only the default revision"
        " serves, and this injector serves another"
    ),
    INJECTION_LABEL_WINS: (
        f"the namespace has both {names.NAMESPACE_INJECTION_LABEL}=enabled and"
        f" {names.REVISION}; the first wins and selects the default revision (istio#41883)"
    ),
    ADDED_CONTAINERS_COVERED: (
        "the Pod was injected already; app containers added since get their probes"
        " rewritten and are named to the proxy"
    ),
}

# Skips a person should hear about: the Pod asked for (or was due) a sidecar and did not
# get one because of something in it that can be fixed.
NOTEWORTHY = frozenset(
    {
        CONTAINER_NAME_CONFLICT,
        VOLUME_NAME_CONFLICT,
        PORT_CONFLICT,
        ANNOTATIONS_FULL,
        POD_SECURITY_LEVEL,
        APP_RUNS_AS_PROXY_UID,
    }
)
# Pod Security levels whose capability rules forbid the init container's NET_ADMIN/NET_RAW
# (without Istio's CNI plugin, which takes the redirect out of the Pod).
_RESTRICTIVE_LEVELS = frozenset({"baseline", "restricted"})

# Ports the proxy and its agent listen on inside the Pod's network namespace.
PROXY_PORTS = frozenset({15000, 15001, 15004, 15006, 15020, 15021, 15053, 15090})


@dataclass(frozen=True)
class Namespace:
    """What the injector knows about a namespace. `None` in its place means unknown."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Injected:
    """The names the sidecar template adds, used to detect collisions."""

    containers: frozenset[str]
    volumes: frozenset[str]
    # Injected containers a Pod may declare itself: merged, not a collision. An init
    # container (`declarable_init`) only counts as declared among the init containers.
    declarable: frozenset[str] = frozenset()
    declarable_init: frozenset[str] = frozenset()


@dataclass
class Decision:
    inject: bool
    reasons: list[str]
    warnings: list[str] = field(default_factory=list)


def _switch(values: Mapping[str, str], key: str, what: str, warnings: list[str]) -> bool | None:
    """Read a true/false switch; an unparsable value is reported and treated as unset."""
    if key not in values:
        return None
    try:
        return grammar.parse_bool(values[key])
    except grammar.GrammarError:
        warnings.append(f"{what} {key}={grammar.printable(values[key])} is not a boolean; ignored")
        return None


def _hard_skips(
    pod: Mapping[str, Any], namespace: str, ns: Namespace | None, config: Config, injected: Injected
) -> list[str]:
    """Reasons that no opt-in can override."""
    spec, meta = pod["spec"], pod.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    found = []
    if spec.get("hostNetwork") is True:
        found.append(HOST_NETWORK)
    if names.MIRROR_POD in annotations:
        found.append(MIRROR_POD)
    if namespace in config.systemNamespaces:
        found.append(SYSTEM_NAMESPACE)
    if namespace == config.injectorNamespace:
        found.append(INJECTOR_NAMESPACE)
    if names.STATUS in annotations:
        found.append(ALREADY_INJECTED)
    else:
        found.extend(_collisions(spec, injected))
    if ns is not None and ns.labels.get(names.NAMESPACE_INJECTION_LABEL) == "disabled":
        found.append(NAMESPACE_DISABLED)
    if (
        ns is not None
        and ns.labels.get(names.PSA_ENFORCE) in _RESTRICTIVE_LEVELS
        and not config.cni.enabled
    ):
        # Pod Security admission runs after us and would reject the injected Pod; with
        # Istio's CNI plugin the redirect needs no capabilities and nothing is rejected.
        found.append(POD_SECURITY_LEVEL)
    # A Pod's own istio-proxy with its own user moves the exemption to that user.
    exempt = declared.exempt_id(spec, config.proxy.uid)
    if _redirected(annotations, config) and _runs_as(
        spec, exempt, injected.containers | injected.declarable
    ):
        found.append(APP_RUNS_AS_PROXY_UID)
    return found


def _redirected(annotations: Mapping[str, Any], config: Config) -> bool:
    """Whether istio-init will redirect the Pod's traffic (and exempt the proxy's id):
    not under interception mode NONE, the annotation's or else the mesh default's."""
    default = config.mesh.proxyConfig.get("interceptionMode")
    return bool(annotations.get(names.INTERCEPTION_MODE, default) != "NONE")


def _runs_as(
    spec: Mapping[str, Any], uid: int, skip: frozenset[str], key: str = "containers"
) -> bool:
    """True when a container under `key` (or the Pod's default) runs as the user or the
    group `uid`: istio-init exempts both from the redirect (istio-iptables takes `-u`'s
    number for the group too). Containers named like ours are not the app's: on
    reinvocation kube-apiserver sends the Pod we injected, whose istio-proxy runs as the
    proxy's uid by design; and a Pod may declare its own istio-proxy to customise it."""
    pod_context = spec.get("securityContext") or {}
    for container in spec.get(key) or []:
        if container.get("name") in skip:
            continue
        context = container.get("securityContext") or {}
        for field_name in ("runAsUser", "runAsGroup"):
            found = context.get(field_name, pod_context.get(field_name))
            if found == uid and not isinstance(found, bool):
                return True
    return False


def init_runs_as(spec: Mapping[str, Any], uid: int, skip: frozenset[str]) -> bool:
    """True when a user init container runs as `uid` (user or group). That matters with
    a native sidecar only: the proxy then starts first and redirects init containers'
    traffic too, which theirs would bypass. With a classic sidecar they run before
    the proxy exists, where running as the proxy's uid is the known way out."""
    return _runs_as(spec, uid, skip, "initContainers")


def _collisions(spec: Mapping[str, Any], injected: Injected) -> list[str]:
    containers = [*(spec.get("initContainers") or []), *spec["containers"]]
    found = []
    clashing = injected.containers - injected.declarable - injected.declarable_init
    if any(c.get("name") in clashing for c in containers) or any(
        c.get("name") in injected.declarable_init for c in spec["containers"]
    ):
        found.append(CONTAINER_NAME_CONFLICT)
    if any(v.get("name") in injected.volumes for v in spec.get("volumes") or []):
        found.append(VOLUME_NAME_CONFLICT)
    ports = (
        p.get("containerPort")
        for c in spec["containers"]
        if c.get("name") not in injected.declarable
        for p in c.get("ports") or []
    )
    if any(port in PROXY_PORTS for port in ports):
        found.append(PORT_CONFLICT)
    return found


def _matches_any(selectors: Sequence[Mapping[str, Any]], pod_labels: Mapping[str, str]) -> bool:
    return any(label_selectors.matches(selector, pod_labels) for selector in selectors)


# The truth table, first matching row wins (hard skips are checked before all rows):
#
#   pod label   pod annotation   never/always sel.   namespace label   policy   -> result
#   true        any              any                 any but disabled  any      -> inject
#   false       any              any                 any               any      -> skip
#   unset       true             any                 any but disabled  any      -> inject
#   unset       false            any                 any               any      -> skip
#   unset       unset            never matches       any               any      -> skip
#   unset       unset            always matches      any but disabled  any      -> inject
#   unset       unset            none                enabled/unknown   enabled  -> inject
#   unset       unset            none                enabled/unknown   disabled -> skip
#   unset       unset            none                absent (known)    any      -> skip
#
# A namespace or Pod whose istio.io/rev selects this injector counts as "enabled" above,
# and the revision rows (`_revision`) may skip first.
# "disabled" on the namespace is a hard skip: the manifest's selectors never call us for
# such a namespace, and the in-process policy agrees with them. "unknown" means there is
# no namespace cache (no cluster); kube-apiserver only calls us for selected namespaces.
def decide(
    pod: Mapping[str, Any],
    *,
    namespace: str,
    ns: Namespace | None,
    config: Config,
    injected: Injected,
) -> Decision:
    """Decide for a Pod whose shape has been checked (spec and containers present)."""
    meta = pod.get("metadata") or {}
    pod_labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    warnings: list[str] = []
    label = _switch(pod_labels, names.INJECT, "label", warnings)
    annotation = _switch(annotations, names.INJECT, "annotation", warnings)
    skips = _hard_skips(pod, namespace, ns, config, injected)
    by_revision, revision_reason = revisions.route(
        pod_labels,
        None if ns is None else ns.labels,
        revision=config.revision,
        tags=config.tags,
    )
    if by_revision is False and revision_reason:
        skips.append(revision_reason)
    if label is False:
        skips.append(POD_LABEL_DISABLED)
    elif label is None and annotation is False:
        skips.append(POD_ANNOTATION_DISABLED)
    if skips:
        return Decision(False, skips, warnings)
    if label:
        return Decision(True, [POD_LABEL_ENABLED], warnings)
    if annotation:
        return Decision(True, [POD_ANNOTATION_ENABLED], warnings)
    if _matches_any(config.neverInjectSelector, pod_labels):
        return Decision(False, [NEVER_INJECT_SELECTOR], warnings)
    if _matches_any(config.alwaysInjectSelector, pod_labels):
        return Decision(True, [ALWAYS_INJECT_SELECTOR], warnings)
    enabled = ns is None or ns.labels.get(names.NAMESPACE_INJECTION_LABEL) == "enabled"
    if not (enabled or by_revision):
        return Decision(False, [NAMESPACE_NOT_ENABLED], warnings)
    if config.policy == "disabled":
        return Decision(False, [POLICY_DISABLED], warnings)
    reason = revision_reason or (NAMESPACE_ENABLED if ns else NAMESPACE_SELECTOR_TRUSTED)
    return Decision(True, [reason], warnings)
