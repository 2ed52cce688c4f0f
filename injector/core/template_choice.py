"""What the template a Pod chose (`inject.istio.io/templates`) means for that Pod.

The policy checks a Pod against the default template's names; a Pod that chose another
template is checked against that one's too. The redirect's init container is left out
under interception mode NONE, and only the sidecar and gateway templates run the proxy
as a native sidecar (Istio 1.20.8's proxyless gRPC templates never do).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from injector.core import names, policy, vocabulary
from injector.core.template import Template


def taken(template: Template, spec: Mapping[str, Any], *, default: policy.Injected) -> list[str]:
    """Reasons the Pod already has a container or volume named like one `template`
    injects, beyond the default template's (the policy checks those)."""
    ours = {template.proxy_name, template.init_name} - default.containers - {None}
    extra = set(template.volume_names) - default.volumes
    if not ours and not extra:
        return []  # the default template, or one with no names of its own
    found = []
    present = {c.get("name") for key in ("containers", "initContainers")
               for c in spec.get(key) or []}  # fmt: skip
    if ours & present:
        found.append(policy.CONTAINER_NAME_CONFLICT)
    if extra & {v.get("name") for v in spec.get("volumes") or []}:
        found.append(policy.VOLUME_NAME_CONFLICT)
    return found


def keeps_init(template: Template, values: Mapping[str, Any]) -> bool:
    """Whether the rendered init container is injected: istio-init is left out under
    interception mode NONE (no redirect), as Istio 1.20.8's template leaves it out."""
    return not (
        template.init_name == names.INIT_CONTAINER
        and values.get("proxy.interceptionMode") == vocabulary.NO_REDIRECT
    )


def can_be_native(template: Template, spec: Mapping[str, Any]) -> bool:
    """Whether the proxy may run as a native sidecar: the template has one and does not
    serve proxyless gRPC apps, and the Pod has an app container (a Pod that is only
    the proxy, a gateway, keeps it as its container: a Pod needs one)."""
    return (
        template.proxy_name is not None
        and not template.adds_to_apps
        and any(c.get("name") != names.PROXY_CONTAINER for c in spec["containers"])
    )
