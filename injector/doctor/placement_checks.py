"""Where our Pods come from and whether they can start: other webhooks that reach them
first, the namespaces labelled for us, their Pod Security levels, native sidecars.

- `other-webhooks`: `webhook_order` on every other configuration.
- `namespaces`: which namespaces are labelled for us (istio-injection=enabled when we serve
  the default revision or a tag named default; istio.io/rev=<our revision or tag>), which
  for another revision, and the known trap of a namespace with both labels (istio-injection
  wins, the revision label is ignored: istio#41883).
- `pod-security`: `pod_security` on the namespaces labelled for us.
- `native-sidecar`: `nativeSidecar` against the server's version (1.29+).
"""

from __future__ import annotations

from collections.abc import Mapping

from injector.cluster import server_version
from injector.core import names
from injector.doctor import pod_security, report, webhook_order
from injector.doctor.target import Snapshot, Target

NAMESPACES, NATIVE = "namespaces", "native-sidecar"
SHOWN = 8


def other_webhooks(target: Target, snapshot: Snapshot) -> list[report.Check]:
    ours = target.webhook_name
    found = webhook_order.overlaps(snapshot.configurations, ours, snapshot.namespaces)
    return webhook_order.verdicts(found, target.webhook_name, target.config.revision)


def _listing(items: list[str]) -> str:
    more = len(items) - SHOWN
    return ", ".join(items[:SHOWN]) + (f" and {more} more" if more > 0 else "")


def _both_labels(name: str, injection: str, revision: str) -> report.Check:
    label = f"{names.NAMESPACE_INJECTION_LABEL}={injection}"
    effect = (
        "istio-injection wins and the revision label is ignored (istio#41883)"
        if injection == "enabled"
        else "no injector's webhook selects it, so nothing is injected there"
    )
    return report.warned(
        NAMESPACES,
        f"namespace {name} has both {label} and {names.REVISION}={revision}: {effect}",
        f"keep one label: kubectl label namespace {name} {names.NAMESPACE_INJECTION_LABEL}-",
    )


def labelled_for_us(target: Target, snapshot: Snapshot) -> dict[str, Mapping[str, str]]:
    """The namespaces whose labels ask for our injection (both labels: see the trap)."""
    ours = target.revisions
    excluded = {*target.config.systemNamespaces, target.namespace}
    found = {}
    for name, labels in snapshot.namespaces.items():
        injection = labels.get(names.NAMESPACE_INJECTION_LABEL)
        revision = labels.get(names.REVISION)
        if name in excluded:
            continue
        by_injection = injection == "enabled" and "default" in ours
        if by_injection or (injection is None and revision in ours):
            found[name] = labels
    return found


def namespaces(target: Target, snapshot: Snapshot) -> list[report.Check]:
    ours, checks = target.revisions, []
    others: list[str] = []
    for name, labels in sorted(snapshot.namespaces.items()):
        injection = labels.get(names.NAMESPACE_INJECTION_LABEL)
        revision = labels.get(names.REVISION)
        if injection is not None and revision is not None:
            checks.append(_both_labels(name, injection, revision))
        elif revision is not None and revision not in ours:
            others.append(f"{name} ({names.REVISION}={revision})")
        elif injection == "enabled" and "default" not in ours:
            others.append(f"{name} (istio-injection=enabled, the default revision)")
    labelled = sorted(labelled_for_us(target, snapshot))
    elsewhere = f"; for another injector: {_listing(others)}" if others else ""
    if labelled:
        listing = f"{_listing(labelled)}{elsewhere}"
        message = f"{report.counted(len(labelled), 'namespace')} labelled for us: {listing}"
        checks.insert(0, report.passed(NAMESPACES, message))
    else:
        checks.insert(
            0,
            report.warned(
                NAMESPACES,
                f"no namespace is labelled for us (revisions {', '.join(ours)}): only Pods"
                f" that opt in themselves are injected{elsewhere}",
                f"kubectl label namespace NAME {names.REVISION}={target.config.revision}",
            ),
        )
    return checks


def pod_security_levels(target: Target, snapshot: Snapshot) -> list[report.Check]:
    labelled = labelled_for_us(target, snapshot)
    return pod_security.verdicts(labelled, cni=target.config.cni.enabled)


def native_sidecar(target: Target, snapshot: Snapshot) -> list[report.Check]:
    mode, (major, minor) = target.config.nativeSidecar, snapshot.version
    supported = server_version.native_supported(snapshot.version)
    server = f"the API server is {major}.{minor}"
    if mode == "true" and not supported:
        return [
            report.failed(
                NATIVE,
                f"nativeSidecar is true but {server}: native sidecars need 1.29 or later,"
                " and the proxy as an init container there keeps every Pod from starting",
                "set nativeSidecar: auto (or false) in the injector's configuration",
            )
        ]
    shape = "an init container with restartPolicy Always" if supported else "a container"
    if mode == "false":
        shape = "a container"
    return [report.passed(NATIVE, f"nativeSidecar is {mode} and {server}: the proxy is {shape}")]
