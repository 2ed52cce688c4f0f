"""Which Pod Security levels refuse the Pods we inject.

`istio-init` redirects the Pod's traffic with iptables: it adds the capabilities
NET_ADMIN and NET_RAW and runs as root (uid 0). The Pod Security Standards forbid that
from `baseline` up: baseline allows only its default set of capabilities (NET_ADMIN and
NET_RAW are not in it), and restricted also requires running as non-root. A namespace
labelled `pod-security.kubernetes.io/enforce` baseline or restricted therefore refuses
every Pod we inject there (the webhook skips them, reason `pod_security_level`); `warn`
and `audit` at those levels only report it. With Istio's CNI plugin the redirect leaves
the Pod: nothing injected asks for capabilities, and no level refuses it.
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


def verdicts(labelled: Mapping[str, Mapping[str, str]], *, cni: bool) -> list[report.Check]:
    """One line per namespace labelled for us whose level refuses (enforce: fail) or
    reports (warn, audit: warn) our Pods; one pass line when none does. With Istio's
    CNI plugin (`cni`), one pass line."""
    if cni:
        return [
            report.passed(
                CHECK,
                "Istio's CNI plugin redirects the traffic: no Pod Security level refuses"
                " the containers we inject",
            )
        ]
    checks = []
    for name in sorted(labelled):
        labels = labelled[name]
        enforced = refusal(labels)
        if enforced is not None:
            checks.append(
                report.failed(
                    CHECK,
                    f"namespace {name} enforces Pod Security {labels[ENFORCE]}: its Pods are"
                    f" not injected (pod_security_level), as injected they would be refused"
                    f" ({enforced})",
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
                "no Pod Security level refuses istio-init in the"
                f" {report.counted(len(labelled), 'namespace')} labelled for us",
            )
        )
    return checks
