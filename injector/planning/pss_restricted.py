"""The Pod Security Standards' `restricted` checks, on top of `baseline`'s: volume types,
privilege escalation, running as non-root (and not as uid 0), a seccomp profile, and
capabilities dropped (ALL) with only NET_BIND_SERVICE added back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from injector.planning.pss_baseline import (
    RESTRICTED_VOLUMES,
    Check,
    added,
    containers,
    pod_context,
    quoted,
    seccomp_type,
    volumes,
)


def _volume_types(pod: Mapping[str, Any], spec: Mapping[str, Any]) -> list[str]:
    found = []
    for volume in volumes(spec):
        kinds = [k for k in volume if k != "name" and k not in RESTRICTED_VOLUMES]
        if kinds:
            found.append(f'volume "{volume.get("name")}" uses {", ".join(kinds)}')
    return found


def _escalation(pod: Mapping[str, Any], spec: Mapping[str, Any]) -> list[str]:
    return [
        f'container "{name}" must set securityContext.allowPrivilegeEscalation=false'
        for name, context in containers(spec)
        if context.get("allowPrivilegeEscalation") is not False
    ]


def _non_root(pod: Mapping[str, Any], spec: Mapping[str, Any]) -> list[str]:
    pod_says = pod_context(spec).get("runAsNonRoot")
    if pod_says is False:
        return ["pod must not set securityContext.runAsNonRoot=false"]
    found = []
    for name, context in containers(spec):
        own = context.get("runAsNonRoot")
        if own is False:
            found.append(f'container "{name}" must not set securityContext.runAsNonRoot=false')
        elif own is None and pod_says is not True:
            found.append(
                f'container "{name}" must set securityContext.runAsNonRoot=true (or the pod must)'
            )
    return found


def _root_user(pod: Mapping[str, Any], spec: Mapping[str, Any]) -> list[str]:
    found = ["pod must not set runAsUser=0"] if pod_context(spec).get("runAsUser") == 0 else []
    found += [
        f'container "{name}" must not set runAsUser=0'
        for name, context in containers(spec)
        if context.get("runAsUser") == 0
    ]
    return found


def _seccomp(pod: Mapping[str, Any], spec: Mapping[str, Any]) -> list[str]:
    allowed = ("RuntimeDefault", "Localhost")
    pod_type = seccomp_type(pod_context(spec))
    found = [] if pod_type in (None, *allowed) else [f"pod seccompProfile.type={pod_type}"]
    for name, context in containers(spec):
        own = seccomp_type(context)
        if own is None and pod_type not in allowed:
            found.append(
                f'container "{name}" must set securityContext.seccompProfile.type to'
                ' "RuntimeDefault" or "Localhost" (or the pod must)'
            )
        elif own is not None and own not in allowed:
            found.append(f'container "{name}" seccompProfile.type={own}')
    return found


def _capabilities(pod: Mapping[str, Any], spec: Mapping[str, Any]) -> list[str]:
    found = []
    for name, context in containers(spec):
        dropped = (context.get("capabilities") or {}).get("drop")
        if not (isinstance(dropped, list) and "ALL" in dropped):
            found.append(f'container "{name}" must set securityContext.capabilities.drop=["ALL"]')
        extra = [c for c in added(context) if c != "NET_BIND_SERVICE"]
        if extra:
            found.append(
                f'container "{name}" must not include {quoted(extra)}'
                " in securityContext.capabilities.add"
            )
    return found


CHECKS: tuple[tuple[str, Check], ...] = (
    ("restricted volume types", _volume_types),
    ("allowPrivilegeEscalation != false", _escalation),
    ("runAsNonRoot != true", _non_root),
    ("runAsUser=0", _root_user),
    ("seccompProfile", _seccomp),
    ("unrestricted capabilities", _capabilities),
)
