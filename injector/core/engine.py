"""The injection pipeline for one Pod: check shape, decide, resolve, render, patch.

Pure and shared: the webhook and the offline `inject` command both call `Engine.inject`
with a Pod as plain data, exactly as it came in (never a typed model, which would drop
fields it does not know). The input is never modified.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from injector.core import (
    mutate,
    names,
    overrides,
    policy,
    proxy_resources,
    review,
    vocabulary,
)
from injector.core.config import Config
from injector.core.memo import Memo
from injector.core.template import Template

# kube-apiserver refuses an object whose annotations exceed 256 KiB in total.
ANNOTATION_SIZE_LIMIT = 256 * 1024
SETTINGS_CACHE_SIZE = 1024
# Outcomes remembered, and the largest Pod (serialized) whose outcome is. Past about 16 KiB,
# serializing and hashing the Pod for the key costs more than deciding again.
OUTCOME_CACHE_SIZE = 512
MEMO_MAX_POD_BYTES = 16 * 1024
SHAPING = overrides.SHAPING_KEYS

Result = Literal["injected", "skipped", "denied"]


@dataclass
class Outcome:
    """What happened to one Pod. `ops` is set when injected, `message` when denied."""

    result: Result
    reasons: list[str]
    warnings: list[str] = field(default_factory=list)
    ops: list[mutate.Operation] | None = None
    message: str | None = None
    # `ops` encoded for the AdmissionResponse (base64 of the JSON), when injected.
    patch: str | None = None

    def copy(self) -> Outcome:
        """A copy whose lists can be changed; the operations are shared (never changed)."""
        return Outcome(
            self.result, list(self.reasons), list(self.warnings), self.ops, self.message,
            self.patch,
        )  # fmt: skip


def _is_str_map(value: Any) -> bool:
    return value is None or (
        isinstance(value, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    )


def _named_list(value: Any, where: str, *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, list) or (required and not value):
        return f"{where} must be a {'non-empty ' if required else ''}list"
    for index, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            return f"{where}[{index}] must be an object with a string name"
    return None


def _container_problem(container: Mapping[str, Any], where: str) -> str | None:
    ports = container.get("ports")
    if ports is not None and not (
        isinstance(ports, list) and all(isinstance(p, dict) for p in ports)
    ):
        return f"{where}.ports must be a list of objects"
    if not isinstance(container.get("securityContext") or {}, dict):
        return f"{where}.securityContext must be an object"
    resources = container.get("resources")
    if resources is not None and not (
        isinstance(resources, dict)
        and all(isinstance(resources.get(k) or {}, dict) for k in ("requests", "limits"))
    ):
        return f"{where}.resources must hold requests/limits objects"
    return None


def shape_problem(pod: Any) -> str | None:
    """Say what makes `pod` impossible to patch safely, or None if it can be patched."""
    if not isinstance(pod, dict):
        return "the object is not a JSON object"
    metadata = pod.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return "metadata must be an object"
    for key in ("labels", "annotations"):
        if not _is_str_map((metadata or {}).get(key)):
            return f"metadata.{key} must map strings to strings"
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return "spec must be an object"
    if not isinstance(spec.get("securityContext") or {}, dict):
        return "spec.securityContext must be an object"
    problem = (
        _named_list(spec.get("containers"), "spec.containers", required=True)
        or _named_list(spec.get("initContainers"), "spec.initContainers")
        or _named_list(spec.get("volumes"), "spec.volumes")
    )
    if problem:
        return problem
    for key in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(key) or []):
            problem = _container_problem(container, f"spec.{key}[{index}]")
            if problem:
                return problem
    return None


# What an entry costs besides the strings counted for it (objects, tuples, dict slots).
_ENTRY_OVERHEAD = 512


def _outcome_bytes(outcome: Outcome) -> int:
    """About what a remembered outcome holds: its patch twice (encoded, and as operations)
    and its messages."""
    texts = [*outcome.warnings, outcome.message or ""]
    return 2 * len(outcome.patch or "") + sum(map(len, texts)) + _ENTRY_OVERHEAD


def _annotation_bytes(annotations: Mapping[str, str]) -> int:
    return sum(len(k.encode()) + len(v.encode()) for k, v in annotations.items())


class Engine:
    """Injection with one configuration and template; build a new one to reconfigure."""

    def __init__(self, config: Config, template: Template) -> None:
        self.config = config
        self.template = template
        self.fingerprint = config.fingerprint(template.text)
        self.injected = policy.Injected(
            containers=frozenset(n for n in (template.proxy_name, template.init_name) if n),
            volumes=frozenset(template.volume_names),
        )
        # Whether the API server runs native sidecars; None until a cluster says so.
        self.native_supported: bool | None = None
        # Settings by (shaping annotations, Guaranteed QoS): the Pods of one workload
        # share them, so most reviews skip the quantity and list parsing.
        # Each is bounded in bytes (memo.py): their keys come from what Pods carry.
        self._settings: Memo[tuple[Any, ...], overrides.Settings] = Memo(
            max_entries=SETTINGS_CACHE_SIZE
        )
        self._patches: Memo[tuple[Any, ...], str] = Memo(max_entries=SETTINGS_CACHE_SIZE)
        self._outcomes: Memo[bytes, Outcome] = Memo(max_entries=OUTCOME_CACHE_SIZE)

    def inject(
        self, pod: Any, *, namespace: str, ns: policy.Namespace | None, remember: bool = True
    ) -> Outcome:
        """Decide and, when injecting, return the patch for one Pod.

        The Pods a controller creates are identical at admission (a generateName, no
        name or uid yet), so outcomes are remembered by everything they depend on: the
        Pod's content, the namespace as known, and whether sidecars can be native.
        `remember=False` skips that for a Pod known to be too large to be worth it.
        """
        key = self._memo_key(pod, namespace, ns) if remember else None
        found = self._outcomes.get(key) if key is not None else None
        if found is not None:
            return found.copy()
        outcome = self._inject(pod, namespace=namespace, ns=ns)
        if key is not None:
            self._outcomes.put(key, outcome.copy(), size=_outcome_bytes(outcome))
        return outcome

    def _memo_key(self, pod: Any, namespace: str, ns: policy.Namespace | None) -> Any:
        """A digest of what an outcome depends on, or None when the Pod is too big to be
        worth remembering (or cannot be serialized again)."""
        try:
            content = orjson.dumps(pod)
        except TypeError:
            return None
        if len(content) > MEMO_MAX_POD_BYTES:
            return None
        known = None if ns is None else (
            ns.name, sorted(ns.labels.items()), sorted(ns.annotations.items())
        )  # fmt: skip
        context = orjson.dumps([namespace, known, self.native_supported])
        return hashlib.blake2b(content + b"\0" + context, digest_size=16).digest()

    def _inject(self, pod: Any, *, namespace: str, ns: policy.Namespace | None) -> Outcome:
        problem = shape_problem(pod)
        if problem:
            return Outcome("denied", [policy.MALFORMED_POD], message=f"cannot inject: {problem}")
        decision = policy.decide(
            pod, namespace=namespace, ns=ns, config=self.config, injected=self.injected
        )
        if not decision.inject:
            return Outcome("skipped", decision.reasons, decision.warnings)
        annotations = (pod.get("metadata") or {}).get("annotations") or {}
        effective = self._effective_annotations(annotations, ns)
        try:
            template = self._template(annotations)
            resolved = overrides.resolve(
                pod["spec"],
                annotations=effective,
                config=self.config,
                native_supported=self.native_supported,
                shared=self._shared_settings(pod["spec"], effective),
            )
            clashes = vocabulary.collisions(resolved.values, pod["spec"], self.injected.volumes)
            if clashes:
                raise overrides.Refused(clashes)
        except overrides.Refused as refused:
            message = "cannot inject the sidecar: " + "; ".join(refused.problems)
            return Outcome(
                "denied", [policy.INVALID_ANNOTATION], decision.warnings, message=message
            )
        warnings = decision.warnings + resolved.warnings
        if resolved.native and policy.init_runs_as(pod["spec"], self.config.proxy.uid):
            return Outcome("skipped", [policy.APP_RUNS_AS_PROXY_UID], warnings)
        if not resolved.native and overrides.owned_by_job(pod):
            warnings.append(overrides.job_warning(self.native_supported))
        values_key = template.key(resolved.values)
        rendered = template.render(resolved.values, key=values_key)
        clashes = vocabulary.duplicates(
            pod["spec"].get("volumes"), rendered["volumes"], rendered["proxy"].get("volumeMounts")
        )
        if clashes:
            message = "cannot inject the sidecar: " + "; ".join(clashes)
            return Outcome("denied", [policy.INVALID_ANNOTATION], warnings, message=message)
        status = self._status(template, rendered, resolved.native, effective)
        if _annotation_bytes(annotations) + len(names.STATUS) + len(status) > ANNOTATION_SIZE_LIMIT:
            return Outcome("skipped", [policy.ANNOTATIONS_FULL], warnings)
        ops = mutate.sidecar_ops(
            pod,
            init=rendered["initContainer"],
            proxy=rendered["proxy"],
            volumes=rendered["volumes"],
            native=resolved.native,
            annotations={names.STATUS: status},
            sysctls=rendered["sysctls"],
        )
        shape = (id(template), values_key, resolved.native, status, *mutate.shape(pod))
        return Outcome(
            "injected", decision.reasons, warnings, ops=ops, patch=self._encode(shape, ops)
        )

    def _encode(self, shape: tuple[Any, ...], ops: list[mutate.Operation]) -> str:
        """The encoded patch, shared by every Pod with the same shape and sidecar: the
        Pods of one workload differ in names, not in what is added to them."""
        found = self._patches.get(shape)
        if found is None:
            found = review.encode_patch(ops)
            # The key holds the values' JSON and the status; the value, the patch.
            held = sum(len(part) for part in shape if isinstance(part, str | bytes))
            self._patches.put(shape, found, size=held + len(found))
        return found

    def _shared_settings(
        self, spec: Mapping[str, Any], annotations: Mapping[str, str]
    ) -> overrides.Settings:
        guaranteed = proxy_resources.is_guaranteed(spec)
        shaping = tuple(sorted((k, v) for k, v in annotations.items() if k in SHAPING))
        key = (guaranteed, shaping)
        found = self._settings.get(key)
        if found is None:
            found = overrides.settings(annotations, self.config, guaranteed=guaranteed)
            # The values are in the key, and again (parsed) in the init arguments.
            size = sum(len(k) + 2 * len(v) for k, v in shaping) + _ENTRY_OVERHEAD
            self._settings.put(key, found, size=size)
        return found

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

    def _template(self, annotations: Mapping[str, str]) -> Template:
        """The template the Pod names in inject.istio.io/templates (else `sidecar`)."""
        try:
            return self.template.select(annotations.get(names.TEMPLATES))
        except ValueError as err:
            raise overrides.Refused([f"annotation {names.TEMPLATES}: {err}"]) from None

    def _status(
        self, template: Template, rendered: Mapping[str, Any], native: bool,
        effective: Mapping[str, str],
    ) -> str:  # fmt: skip
        inits = [] if template.init_name is None else [template.init_name]
        status = {
            "initContainers": [*inits, template.proxy_name] if native else (inits or None),
            "containers": [] if native else [template.proxy_name],
            "volumes": [volume["name"] for volume in rendered["volumes"]],
            "imagePullSecrets": None,
            "revision": self.config.revision,
            "configHash": self.fingerprint,
            "native": native,
            "values": {k: effective[k] for k in names.INHERITABLE_ANNOTATIONS if k in effective},
        }
        return orjson.dumps(status).decode()
