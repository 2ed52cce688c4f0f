"""A Pod judged by the Pod Security Standards at a level, as the Pod Security admission
plugin judges it for a namespace's `enforce` label: `privileged` asks nothing,
`baseline` its checks (pss_baseline), `restricted` those and its own (pss_restricted).

A finding reads as the plugin's refusal does, e.g. `unrestricted capabilities (container
"istio-init" must not include "NET_ADMIN", "NET_RAW" in securityContext.capabilities.add)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from injector.planning import pss_baseline, pss_restricted

PRIVILEGED, BASELINE, RESTRICTED = "privileged", "baseline", "restricted"
LEVELS = (PRIVILEGED, BASELINE, RESTRICTED)
ENFORCE = "pod-security.kubernetes.io/enforce"


@dataclass(frozen=True)
class Finding:
    check: str
    details: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.check} ({'; '.join(self.details)})"


def level_of(labels: Mapping[str, str]) -> str:
    """The namespace's enforce level; an absent or unknown value is `privileged`, as the
    plugin's own default is (a cluster-wide default is not visible from here)."""
    level = labels.get(ENFORCE)
    return level if level in LEVELS else PRIVILEGED


def judge(pod: Mapping[str, Any], level: str) -> list[Finding]:
    """Every check of `level` the Pod (or Pod template) fails, each with what fails it."""
    found_spec = pod.get("spec")
    spec: Mapping[str, Any] = found_spec if isinstance(found_spec, Mapping) else {}
    checks = {
        PRIVILEGED: (),
        BASELINE: pss_baseline.CHECKS,
        RESTRICTED: pss_baseline.CHECKS + pss_restricted.CHECKS,
    }[level]
    found = []
    for name, check in checks:
        details = check(pod, spec)
        if details:
            found.append(Finding(name, tuple(details)))
    return found
