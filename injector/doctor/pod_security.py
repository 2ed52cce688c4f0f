"""Which Pod Security levels refuse the Pods we inject.

`istio-init` redirects the Pod's traffic with iptables: it adds the capabilities
NET_ADMIN and NET_RAW and runs as root (uid 0). The Pod Security Standards forbid that
from `baseline` up: baseline allows only its default set of capabilities (NET_ADMIN and
NET_RAW are not in it), and restricted also requires running as non-root. A namespace
labelled `pod-security.kubernetes.io/enforce` baseline or restricted therefore refuses
every Pod we inject there; `warn` and `audit` at those levels only report it.
Pure: namespace labels in, verdicts out.
"""

from __future__ import annotations

from collections.abc import Mapping

from injector.doctor import report

CHECK = "pod-security"
PREFIX = "pod-security.kubernetes.io/"
ENFORCE, WARN, AUDIT = f"{PREFIX}enforce", f"{PREFIX}warn", f"{PREFIX}audit"
REFUSING = {
    "baseline": "baseline forbids the capabilities NET_ADMIN and NET_RAW that istio-init adds",
    "restricted": "restricted forbids the capabilities NET_ADMIN and NET_RAW and running as"
    " root, which istio-init needs",
}
HINT = (
    "label the namespace pod-security.kubernetes.io/enforce=privileged (istio-init needs"
    " NET_ADMIN and NET_RAW), or stop labelling it for injection"
)


def refusal(labels: Mapping[str, str], mode: str = ENFORCE) -> str | None:
    """Why the namespace's level for `mode` refuses istio-init, or None."""
    return REFUSING.get(labels.get(mode, ""))


def verdicts(labelled: Mapping[str, Mapping[str, str]]) -> list[report.Check]:
    """One line per namespace labelled for us whose level refuses (enforce: fail) or
    reports (warn, audit: warn) our Pods; one pass line when none does."""
    checks = []
    for name in sorted(labelled):
        labels = labelled[name]
        enforced = refusal(labels)
        if enforced is not None:
            checks.append(
                report.failed(
                    CHECK,
                    f"namespace {name} enforces Pod Security {labels[ENFORCE]}: every Pod"
                    f" we inject there is refused ({enforced})",
                    HINT,
                )
            )
            continue
        reported = [m for m in (WARN, AUDIT) if refusal(labels, m) is not None]
        if reported:
            modes = " and ".join(m.removeprefix(PREFIX) for m in reported)
            checks.append(
                report.warned(
                    CHECK,
                    f"namespace {name} has Pod Security {modes} at a level that istio-init"
                    " breaks: our Pods are admitted, with warnings or audit entries",
                    HINT,
                )
            )
    if not checks:
        checks.append(
            report.passed(
                CHECK,
                f"no Pod Security level refuses istio-init in the {len(labelled)}"
                " namespaces labelled for us",
            )
        )
    return checks
