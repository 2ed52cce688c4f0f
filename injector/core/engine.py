"""The injection pipeline for one Pod: check shape, decide, resolve, render, patch.

Pure and shared: the webhook and the offline `inject` command both call `Engine.inject`
with a Pod as plain data, exactly as it came in (never a typed model, which would drop
fields it does not know). The input is never modified.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from injector.core import (
    cni,
    declared,
    mtls_certs,
    names,
    overrides,
    pod_shape,
    policy,
    proxy_config,
    proxy_resources,
    render_plan,
    review,
    sidecar_pod,
    status_annotation,
    template_choice,
    vocabulary,
    workload_identity,
)
from injector.core import patch as patch_ops
from injector.core.config import Config, ca_address
from injector.core.memo import Memo
from injector.core.template import Template

SETTINGS_CACHE_SIZE = 1024
PLAN_CACHE_SIZE = 256
# Outcomes remembered, and the largest Pod (serialized) whose outcome is. A Pod is its
# own key (its JSON): the dict's keyed hash (SipHash) of 60 KB costs 13 µs where a
# digest cost 65 (BLAKE2b) and stays collision-proof, since equal hashes are settled by
# comparing the keys. Past 64 KiB a Pod is mostly one huge field (env, managedFields)
# and deciding again is cheaper than serializing it for the key.
OUTCOME_CACHE_SIZE = 512
MEMO_MAX_POD_BYTES = 64 * 1024
# The table's bound counts the keys too: the largest remembered Pod and its patch fit.
OUTCOME_MAX_ENTRY_BYTES = 3 * MEMO_MAX_POD_BYTES
SHAPING = overrides.SHAPING_KEYS

Result = Literal["injected", "skipped", "denied"]


@dataclass
class Outcome:
    """What happened to one Pod. `patch` is set when injected with changes, `message`
    when denied.

    The patch is kept encoded only (base64 of the JSON Patch, as the AdmissionResponse
    carries it): a remembered outcome is then a few strings, not the tree of operations
    and containers that kept every remembered Pod's objects alive for the collector and
    cost about 15 µs a review to free when evicted (bench/cold.py).
    """

    result: Result
    reasons: list[str]
    warnings: list[str] = field(default_factory=list)
    message: str | None = None
    patch: str | None = None

    @property
    def ops(self) -> list[patch_ops.Operation] | None:
        """The JSON Patch operations, decoded from `patch`: a new list on every call."""
        return None if self.patch is None else review.decode_patch(self.patch)

    def copy(self) -> Outcome:
        """A copy whose lists can be changed."""
        return Outcome(
            self.result, list(self.reasons), list(self.warnings), self.message, self.patch
        )


# What an entry costs besides the strings counted for it (objects, tuples, dict slots).
_ENTRY_OVERHEAD = 512


def _outcome_bytes(outcome: Outcome) -> int:
    """About what a remembered outcome holds: its encoded patch and its messages."""
    texts = [*outcome.warnings, outcome.message or "", outcome.patch or ""]
    return sum(map(len, texts)) + _ENTRY_OVERHEAD


class Engine:
    """Injection with one configuration and template; build a new one to reconfigure."""

    def __init__(
        self, config: Config, template: Template, *, render: Literal["plan", "diff"] = "plan"
    ) -> None:
        self.config = config
        # "plan": a render plan per settings, the patch emitted from the fields set;
        # "diff": the template rendered per Pod, the injected Pod diffed (the oracle).
        self.render = render
        self.template = template
        self.fingerprint = config.fingerprint(template.text)
        self.injected = policy.Injected(
            containers=frozenset(n for n in (template.proxy_name, self._init_name(template)) if n),
            volumes=frozenset(template.volume_names),
            declarable=frozenset({names.PROXY_CONTAINER}),
            declarable_init=frozenset({names.INIT_CONTAINER}),
        )
        # The mesh's default ProxyConfig as the key ProxyConfigs are remembered by.
        self._mesh_proxy_config = proxy_config.mesh_defaults(
            config.mesh.proxyConfig, discovery_address=ca_address(config.revision)
        )
        # Whether the API server runs native sidecars; None until a cluster says so.
        self.native_supported: bool | None = None
        # Settings by (shaping annotations, Guaranteed QoS): the Pods of one workload
        # share them, so most reviews skip the quantity and list parsing.
        # Each is bounded in bytes (memo.py): their keys come from what Pods carry.
        self._settings: Memo[tuple[Any, ...], overrides.Settings] = Memo(
            max_entries=SETTINGS_CACHE_SIZE
        )
        # Render plans by settings (template, ProxyConfig, shared settings' key); a
        # plan of None: the template's per-Pod values are not slots, render per Pod.
        self._plans: Memo[tuple[Any, ...], tuple[render_plan.Plan | None]] = Memo(
            max_entries=PLAN_CACHE_SIZE
        )
        self._outcomes: Memo[tuple[bytes, bytes], Outcome] = Memo(
            max_entries=OUTCOME_CACHE_SIZE, max_entry_bytes=OUTCOME_MAX_ENTRY_BYTES
        )

    def _init_name(self, template: Template) -> str | None:
        """The init container's name: istio-validation when Istio's CNI plugin redirects."""
        if template.init_name is not None and self.config.cni.enabled:
            return cni.VALIDATION_CONTAINER
        return template.init_name

    def inject(
        self,
        pod: Any,
        *,
        namespace: str,
        ns: policy.Namespace | None,
        remember: bool = True,
        workload: workload_identity.Workload | None = None,
        content: bytes | None = None,
    ) -> Outcome:
        """Decide and, when injecting, return the patch for one Pod.

        The Pods a controller creates are identical at admission (a generateName, no
        name or uid yet), so outcomes are remembered by everything they depend on: the
        Pod's content, the namespace as known, and whether sidecars can be native.
        `remember=False` skips that for a Pod known to be too large to be worth it.
        `workload` is the Pod's workload when it is known (offline); the webhook works it
        out from the Pod's controller. `content`, when the caller has it, stands for the
        Pod in that key: bytes equal only for equal Pods (`review.after_uid`), which
        spares serializing the Pod again.
        """
        key = self._memo_key(pod, namespace, ns, workload, content) if remember else None
        found = self._outcomes.get(key) if key is not None else None
        if found is not None:
            return found.copy()
        outcome = self._inject(pod, namespace=namespace, ns=ns, workload=workload)
        if key is not None:
            size = _outcome_bytes(outcome) + len(key[0]) + len(key[1])
            self._outcomes.put(key, outcome.copy(), size=size)
        return outcome

    def _memo_key(
        self,
        pod: Any,
        namespace: str,
        ns: policy.Namespace | None,
        workload: workload_identity.Workload | None,
        content: bytes | None,
    ) -> tuple[bytes, bytes] | None:
        """What an outcome depends on: the Pod (its JSON, or the caller's `content`) and
        its context (the namespace as known, native sidecars, the workload); None when
        the Pod is too big to be worth remembering (or cannot be serialized again)."""
        source = "pod" if content is None else "body"
        try:
            content = orjson.dumps(pod) if content is None else content
        except TypeError:
            return None
        if len(content) > MEMO_MAX_POD_BYTES:
            return None
        known = None if ns is None else (
            ns.name, sorted(ns.labels.items()), sorted(ns.annotations.items())
        )  # fmt: skip
        named = None if workload is None else [workload.name, workload.kind, workload.api_version]
        # Which kind of bytes the key holds is part of it: the two never meet.
        return content, orjson.dumps([source, namespace, known, self.native_supported, named])

    def _inject(
        self,
        pod: Any,
        *,
        namespace: str,
        ns: policy.Namespace | None,
        workload: workload_identity.Workload | None,
    ) -> Outcome:
        problem = pod_shape.problem(pod)
        if problem:
            return Outcome("denied", [policy.MALFORMED_POD], message=f"cannot inject: {problem}")
        decision = policy.decide(
            pod, namespace=namespace, ns=ns, config=self.config, injected=self.injected
        )
        annotations = (pod.get("metadata") or {}).get("annotations") or {}
        effective = self._effective_annotations(annotations, ns)
        if not decision.inject:
            if decision.reasons != [policy.ALREADY_INJECTED]:
                return Outcome("skipped", decision.reasons, decision.warnings)
            return self._reinvoked(pod, decision, annotations, effective)
        try:
            template, shared, config, key = self._checked(pod, annotations, effective)
        except overrides.Refused as refused:
            message = "cannot inject the sidecar: " + "; ".join(refused.problems)
            return Outcome(
                "denied", [policy.INVALID_ANNOTATION], decision.warnings, message=message
            )
        hold = config.hold or self.config.mesh.holdApplicationUntilProxyStarts
        plan = self._plan(template, shared, config, key, hold) if self.render == "plan" else None
        resolved = overrides.settled(
            effective, config=self.config, native_supported=self.native_supported,
            shared=shared, values=plan.values if plan is not None
            else overrides.shared_values(shared, self.config),
        )  # fmt: skip
        warnings = decision.warnings + resolved.warnings + vocabulary.declined(annotations)
        native = resolved.native and template_choice.can_be_native(template, pod["spec"])
        # A Job's (or CronJob's) Pod template offline has no ownerReference yet; the
        # webhook sees one on the Pod the Job makes: warn alike.
        made_by_job = workload is not None and workload.kind in ("Job", "CronJob")
        if native:
            # The same exempt id as the app containers' check: a declared proxy's own user.
            exempt = declared.exempt_id(pod["spec"], self.config.proxy.uid)
            ours = self.injected.containers | self.injected.declarable_init
            if policy.init_runs_as(pod["spec"], exempt, ours):
                return Outcome("skipped", [policy.APP_RUNS_AS_PROXY_UID], warnings)
        if not native and (made_by_job or overrides.owned_by_job(pod)):
            warnings.append(overrides.job_warning(self.native_supported))
        taken = template_choice.taken(template, pod["spec"], default=self.injected)
        if taken:
            return Outcome("skipped", taken, warnings)
        workload = workload or workload_identity.of_pod(pod)
        rendered = self._rendered(
            pod["spec"], template, plan, resolved.values, config,
            hold=hold, workload=workload.env(namespace),
        )  # fmt: skip
        init = rendered["initContainer"]
        clashes = vocabulary.duplicates(
            pod["spec"].get("volumes"),
            rendered["volumes"],
            (rendered["proxy"] or {}).get("volumeMounts"),
        )
        if clashes:
            message = "cannot inject the sidecar: " + "; ".join(clashes)
            return Outcome("denied", [policy.INVALID_ANNOTATION], warnings, message=message)
        status = status_annotation.build(
            proxy_name=template.proxy_name,
            init_name=None if init is None else self._init_name(template),
            volumes=rendered["volumes"],
            native=native,
            effective=effective,
            spec=pod["spec"],
            revision=self.config.revision,
            config_hash=self.fingerprint,
            pull_secrets=self.config.proxy.imagePullSecrets,
        )
        if not status_annotation.fits(annotations, status):
            return Outcome("skipped", [policy.ANNOTATIONS_FULL], warnings)
        sidecar = sidecar_pod.Sidecar(
            proxy=rendered["proxy"],
            init=init,
            volumes=rendered["volumes"],
            sysctls=rendered["sysctls"],
            gateway=template is self.template.named.get("gateway"),
            native=native,
            hold=hold,
            values=resolved.values,
            status=status,
            workload=workload,
            app=rendered["app"],
            metadata=template.metadata if template.has_metadata else None,
        )
        ops = self._patch(pod, sidecar, plan)
        return Outcome("injected", decision.reasons, warnings, patch=review.encode_patch(ops))

    def _patch(
        self, pod: Any, sidecar: sidecar_pod.Sidecar, plan: render_plan.Plan | None
    ) -> list[patch_ops.Operation]:
        """The patch, emitted from the fields set (the oracle: the built Pod diffed)."""
        if self.render == "diff":
            return patch_ops.diff(pod, sidecar_pod.build(pod, sidecar, self.config))
        # Mounted mTLS certificates add a volume of the Pod's own: no plan's volumes then.
        volumes = None
        if plan is not None and sidecar.volumes is plan.rendered["volumes"]:
            volumes = plan.volumes
        return sidecar_pod.patch(pod, sidecar, self.config, volumes)

    def _rendered(
        self,
        spec: Mapping[str, Any],
        template: Template,
        plan: render_plan.Plan | None,
        values: dict[str, Any],
        config: proxy_config.ProxyConfig,
        *,
        hold: bool,
        workload: list[dict[str, str]],
    ) -> dict[str, Any]:
        """What the template gives this Pod ({"initContainer", "proxy", "volumes",
        "sysctls", "app"}), the proxy and init container with their per-Pod env: the
        plan's slots filled, or without a plan the template rendered for the Pod (then
        `values`, the settings' values, get the Pod's own)."""
        here = overrides.pod_values(spec)
        if plan is not None:
            rendered = plan.rendered
            proxy, init = plan.proxy_for(here, workload), plan.init
        else:
            values.update(here)
            rendered = template.render(values)
            proxy = None
            if rendered["proxy"] is not None:
                proxy = sidecar_pod.proxy(
                    rendered["proxy"], proxy_config=config, identity=workload, hold=hold
                )
            init = sidecar_pod.init(rendered["initContainer"], config)
        found = {**rendered, "proxy": proxy, "initContainer": init}
        if self.config.proxy.mountMtlsCerts:
            found = mtls_certs.add(found, spec)
        if not template_choice.keeps_init(template, values):
            found["initContainer"] = None
        return found

    def _plan(
        self,
        template: Template,
        shared: overrides.Settings,
        config: proxy_config.ProxyConfig,
        key: tuple[Any, ...],
        hold: bool,
    ) -> render_plan.Plan | None:
        """The render plan of these settings (None: the template is rendered per Pod)."""
        key = (template.text, config, *key)
        found = self._plans.get(key)
        if found is None:
            values = overrides.shared_values(shared, self.config)
            built = render_plan.build(template, values, proxy_config=config, hold=hold)
            found = (built,)
            size = _ENTRY_OVERHEAD + (0 if built is None else built.size)
            self._plans.put(key, found, size=size)
        return found[0]

    def _checked(
        self, pod: Any, annotations: Mapping[str, str], effective: dict[str, str]
    ) -> tuple[Template, overrides.Settings, proxy_config.ProxyConfig, tuple[Any, ...]]:
        """What the Pod's annotations choose, checked: all that refuses a Pod, and all an
        injected Pod seen again needs (not the per-Pod values); last, the key the shared
        settings are remembered by."""
        template = self._template(annotations)
        key, shared = self._shared_settings(pod["spec"], effective)
        # The user volumes and mounts are among the shared values (the annotations').
        clashes = vocabulary.collisions(shared.vocabulary, pod["spec"], self.injected.volumes)
        if clashes:
            raise overrides.Refused(clashes)
        config, problem = proxy_config.problem(annotations, self._mesh_proxy_config)
        if problem:
            raise overrides.Refused([problem])
        return template, shared, config, key

    def _template(self, annotations: Mapping[str, str]) -> Template:
        """The template the Pod names in inject.istio.io/templates (else `sidecar`)."""
        try:
            return self.template.select(annotations.get(names.TEMPLATES))
        except ValueError as err:
            raise overrides.Refused([f"annotation {names.TEMPLATES}: {err}"]) from None

    def _reinvoked(
        self,
        pod: Any,
        decision: policy.Decision,
        annotations: Mapping[str, str],
        effective: dict[str, str],
    ) -> Outcome:
        """An injected Pod seen again: patched only to cover app containers added since.
        Refused annotations leave it as it is; the per-Pod values are not needed."""
        try:
            _template, shared, _config, _key = self._checked(pod, annotations, effective)
        except overrides.Refused:
            return Outcome("skipped", decision.reasons, decision.warnings)
        again = sidecar_pod.reinvoke(
            pod,
            annotations=effective,
            default=self.config.mesh.rewriteAppHTTPProbers,
            status_port=int(shared.vocabulary.get("proxy.statusPort", 15020)),
        )
        if again is None:
            return Outcome("skipped", decision.reasons, decision.warnings)
        ops = patch_ops.diff(pod, again)
        reasons = [policy.ADDED_CONTAINERS_COVERED]
        return Outcome("injected", reasons, decision.warnings, patch=review.encode_patch(ops))

    def _shared_settings(
        self, spec: Mapping[str, Any], annotations: Mapping[str, str]
    ) -> tuple[tuple[Any, ...], overrides.Settings]:
        guaranteed = proxy_resources.is_guaranteed(spec)
        shaping = tuple(sorted((k, v) for k, v in annotations.items() if k in SHAPING))
        key = (guaranteed, shaping)
        found = self._settings.get(key)
        if found is None:
            found = overrides.settings(annotations, self.config, guaranteed=guaranteed)
            # The values are in the key, and again (parsed) in the init arguments.
            size = sum(len(k) + 2 * len(v) for k, v in shaping) + _ENTRY_OVERHEAD
            self._settings.put(key, found, size=size)
        return key, found

    @staticmethod
    def _effective_annotations(
        annotations: Mapping[str, str], ns: policy.Namespace | None
    ) -> dict[str, str]:
        """Pod annotations over the namespace's inheritable defaults."""
        inherited = {
            key: ns.annotations[key]
            for key in names.INHERITABLE_ANNOTATIONS
            if ns is not None and isinstance(ns.annotations.get(key), str)
        }
        return {**inherited, **annotations}
