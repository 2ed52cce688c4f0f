"""Which other mutating webhooks reach our Pods, and whether they come first.

kube-apiserver calls MutatingWebhookConfigurations in the order of their names, and the
webhooks of one configuration in list order. Another webhook shares our Pods when its
rules match Pod CREATE and both its selectors can hold together with ours: the two
namespaceSelectors and the two objectSelectors are each satisfiable together (label
selectors are conjunctions, so this is decidable per key). The namespaces that carry such
labels today are named; a selector pair no namespace satisfies yet is a warning, not a
failure.

An Istio injector (a webhook named `*sidecar-injector.istio.io`, as istiod's chart and
`istioctl tag` name theirs) that comes first injects istiod's sidecar, and ours then
skips the Pod as already injected: that misdirects injection and fails the check.
`istioctl tag set default` deactivates the old entries with a selector that never
matches (`istio.io/deactivated: never-match`); those are ignored. Pure: plain dicts in,
verdicts out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from injector.doctor import report

CHECK = "other-webhooks"
ISTIO_INJECTOR_SUFFIX = "sidecar-injector.istio.io"
NEVER_MATCH = ("istio.io/deactivated", "never-match")
SHOWN_NAMESPACES = 5
GUIDE = "docs/beside-istiod.md"


@dataclass(frozen=True)
class Hook:
    configuration: str
    name: str
    namespace_selector: Mapping[str, Any]
    object_selector: Mapping[str, Any]

    @property
    def label(self) -> str:
        return f"{self.configuration}/{self.name}"


@dataclass(frozen=True)
class Overlap:
    theirs: Hook
    before: bool  # called before ours
    namespaces: tuple[str, ...]  # namespaces today where both select the Pods


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _rule_matches(rule: Any) -> bool:
    if not isinstance(rule, dict):
        return False

    def has(key: str, *accepted: str) -> bool:
        return any(v in accepted for v in _listed(rule.get(key)))

    scope = rule.get("scope", "*")
    return (
        has("operations", "CREATE", "*")
        and has("apiGroups", "", "*")
        and has("apiVersions", "v1", "*")
        and has("resources", "pods", "*", "*/*")
        and scope in ("*", "Namespaced")
    )


def pod_create_hooks(configuration: Mapping[str, Any]) -> list[Hook]:
    """The webhooks of one configuration whose rules match Pod CREATE, in list order."""
    name = str((configuration.get("metadata") or {}).get("name", ""))
    hooks = []
    for hook in _listed(configuration.get("webhooks")):
        if isinstance(hook, dict) and any(_rule_matches(r) for r in _listed(hook.get("rules"))):
            ns, obj = hook.get("namespaceSelector"), hook.get("objectSelector")
            hooks.append(
                Hook(
                    name,
                    str(hook.get("name", "")),
                    ns if isinstance(ns, dict) else {},
                    obj if isinstance(obj, dict) else {},
                )
            )
    return hooks


def _requirements(selector: Mapping[str, Any]) -> Iterable[tuple[str, str, frozenset[str]]]:
    labels = selector.get("matchLabels")
    for key, value in (labels if isinstance(labels, dict) else {}).items():
        yield str(key), "In", frozenset({str(value)})
    for expression in _listed(selector.get("matchExpressions")):
        if isinstance(expression, dict):
            values = frozenset(str(v) for v in _listed(expression.get("values")))
            yield str(expression.get("key")), str(expression.get("operator")), values


def satisfiable(*selectors: Mapping[str, Any]) -> bool:
    """Whether some set of labels satisfies every selector at once."""
    by_key: dict[str, list[tuple[str, frozenset[str]]]] = {}
    for selector in selectors:
        for key, operator, values in _requirements(selector):
            by_key.setdefault(key, []).append((operator, values))
    for requirements in by_key.values():
        allowed: frozenset[str] | None = None
        excluded: set[str] = set()
        present = absent = False
        for operator, values in requirements:
            if operator == "In":
                allowed = values if allowed is None else allowed & values
                present = True
            elif operator == "NotIn":
                excluded |= values
            elif operator == "Exists":
                present = True
            elif operator == "DoesNotExist":
                absent = True
        if absent and present:
            return False
        if allowed is not None and not allowed - excluded:
            return False
    return True


def matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Whether `labels` satisfy `selector` (an empty selector matches everything)."""
    for key, operator, values in _requirements(selector):
        value = labels.get(key)
        if operator == "In" and value not in values:
            return False
        if (operator == "NotIn" and value in values) or (operator == "Exists" and value is None):
            return False
        if operator == "DoesNotExist" and value is not None:
            return False
    return True


def deactivated(hook: Hook) -> bool:
    """istioctl's never-matching selector (istio.io/deactivated: never-match)."""
    key, value = NEVER_MATCH
    return any(
        (selector.get("matchLabels") or {}).get(key) == value
        for selector in (hook.namespace_selector, hook.object_selector)
    )


def overlaps(
    configurations: Sequence[Mapping[str, Any]],
    ours: str,
    namespaces: Mapping[str, Mapping[str, str]],
) -> list[Overlap]:
    """Every other webhook that can reach a Pod one of ours reaches, in the order
    kube-apiserver calls them; `namespaces` maps each namespace to its labels."""
    by_name = {str((c.get("metadata") or {}).get("name", "")): c for c in configurations}
    our_hooks = pod_create_hooks(by_name.get(ours, {}))
    found = []
    for name in sorted(n for n in by_name if n != ours):
        for theirs in pod_create_hooks(by_name[name]):
            shared = [
                hook
                for hook in our_hooks
                if satisfiable(hook.namespace_selector, theirs.namespace_selector)
                and satisfiable(hook.object_selector, theirs.object_selector)
            ]
            if not shared or deactivated(theirs):
                continue
            selected = sorted(
                ns
                for ns, labels in namespaces.items()
                if matches(theirs.namespace_selector, labels)
                and any(matches(hook.namespace_selector, labels) for hook in shared)
            )
            found.append(Overlap(theirs, name < ours, tuple(selected)))
    return found


def _required(selector: Mapping[str, Any]) -> str:
    """The labels a selector requires, e.g. "istio.io/rev=default" ("" for none)."""
    return ", ".join(
        f"{key}={'|'.join(sorted(values))}" if operator == "In" else key
        for key, operator, values in _requirements(selector)
        if operator in ("In", "Exists")
    )


def _where(overlap: Overlap) -> str:
    """Which Pods: those its objectSelector asks for (labels it requires), where."""
    namespaces = overlap.namespaces
    shown = ", ".join(namespaces[:SHOWN_NAMESPACES])
    more = len(namespaces) - SHOWN_NAMESPACES
    required = _required(overlap.theirs.object_selector)
    pods = f"Pods labelled {required}" if required else "Pods"
    if not namespaces:
        labels = _required(overlap.theirs.namespace_selector)
        return f"{pods} in namespaces labelled {labels or 'to match both'} (none today)"
    return f"{pods} in namespaces {shown}" + (f" and {more} more" if more > 0 else "")


def _move(our_revision: str) -> str:
    """What to do about an Istio injector ahead of ours (docs/beside-istiod.md)."""
    if our_revision == "default":
        return (
            "give our injector a revision of its own (configuration key revision) and move"
            " those namespaces to it (istio.io/rev), or stop istiod registering this"
            f" webhook: see {GUIDE}"
        )
    return (
        f"label those namespaces istio.io/rev={our_revision} (and remove"
        f" istio-injection), or stop istiod registering this webhook: see {GUIDE}"
    )


def judge(overlap: Overlap, ours: str, our_revision: str) -> report.Check:
    """The verdict on one other webhook that shares Pods with ours."""
    hook, where = overlap.theirs.label, _where(overlap)
    istio = overlap.theirs.name.endswith(ISTIO_INJECTOR_SUFFIX)
    move = _move(our_revision)
    if istio and overlap.before and overlap.namespaces:
        return report.failed(
            CHECK,
            f"{hook} is called before {ours} (configurations run in name order) on"
            f" {where}: it injects istiod's sidecar first, so ours skips those Pods"
            " as already injected",
            move,
        )
    order = "before" if overlap.before else "after"
    if istio and overlap.namespaces:
        return report.warned(
            CHECK,
            f"{hook} is called after {ours} on {where}: it skips the Pods we"
            " injected (they carry sidecar.istio.io/status), yet it is a second injector"
            " for them",
            move,
        )
    if istio:
        return report.warned(
            CHECK,
            f"{hook} is called {order} {ours} and would reach the same {where}",
            f"keep namespaces labelled for one injector only: see {GUIDE}",
        )
    if not overlap.before:
        return report.passed(CHECK, f"{hook} is called after {ours} on the same Pods")
    if not overlap.namespaces:
        return report.passed(
            CHECK, f"{hook} is called before {ours}, in no namespace labelled today"
        )
    return report.warned(
        CHECK,
        f"{hook} mutates the same Pods before ours ({where}); ours injects into the Pod"
        " as that webhook leaves it",
        "usually harmless; if it adds containers or probes, check an injected Pod"
        " (sidecar-injector audit)",
    )


def verdicts(overlaps_found: Sequence[Overlap], ours: str, our_revision: str) -> list[report.Check]:
    """One line per overlapping webhook, or one pass line when there is none."""
    if not overlaps_found:
        return [report.passed(CHECK, f"no other mutating webhook shares Pods with {ours}")]
    return [judge(o, ours, our_revision) for o in overlaps_found]
