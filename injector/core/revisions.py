"""Which revision of the control plane serves a Pod (`istio.io/rev`), decided as Istio
1.20.8's webhook configurations route Pods: a namespace or Pod names a revision or a tag,
and `istio-injection=enabled` belongs to the default revision. The policy asks `route`
first; its codes are reason codes like the policy's own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from injector.core import names

NAMESPACE_REVISION = "namespace_revision"
POD_REVISION = "pod_revision"
OTHER_REVISION = "other_revision"
DEFAULT_REVISION_ONLY = "default_revision_only"
INJECTION_LABEL_WINS = "injection_label_wins"


# Revisions, as Istio 1.20.8's webhook configurations route Pods (its injector itself never
# reads istio.io/rev). "ours" = the configured revision or one of its tags; the default
# revision's entries serve a revision whose name or tag is "default". First row wins:
#
#   ns istio-injection  ns istio.io/rev  pod istio.io/rev label  -> result
#   enabled             set              any                     -> default's (istio#41883)
#   enabled             absent           any                     -> default's
#   absent              ours             any                     -> inject if otherwise due
#   absent              other            any                     -> skip other_revision
#   absent              absent           ours                    -> inject if not opted out
#   absent              absent           other                   -> skip other_revision
#   absent              absent           absent                  -> default's (a Pod opt-in)
#
# "default's" means: go on with the table of `policy.decide` if this injector serves the
# default revision, else skip (injection_label_wins / default_revision_only). A namespace
# whose istio-injection is anything but enabled is left to `decide` (never injected).
# Unknown namespace: kube-apiserver already routed by these rules, so nothing is skipped.
def route(
    pod_labels: Mapping[str, str],
    ns_labels: Mapping[str, str] | None,
    *,
    revision: str,
    tags: Sequence[str],
) -> tuple[bool | None, str | None]:
    """(True: selected by revision, False: skip, None: up to the policy) and the reason.
    `ns_labels` None: the namespace is not known."""
    if ns_labels is None:
        return None, None
    ours = {revision, *tags}
    serves_default = "default" in ours
    injection, ns_rev = (
        ns_labels.get(names.NAMESPACE_INJECTION_LABEL),
        ns_labels.get(names.REVISION),
    )
    if injection is not None:
        if injection != "enabled" or serves_default:
            return None, None
        return False, INJECTION_LABEL_WINS if ns_rev is not None else DEFAULT_REVISION_ONLY
    if ns_rev is not None:
        return (True, NAMESPACE_REVISION) if ns_rev in ours else (False, OTHER_REVISION)
    pod_rev = pod_labels.get(names.REVISION)
    if pod_rev is not None:
        return (True, POD_REVISION) if pod_rev in ours else (False, OTHER_REVISION)
    return (None, None) if serves_default else (False, DEFAULT_REVISION_ONLY)
