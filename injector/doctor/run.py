"""Every check, in a fixed order, against one cluster.

What several checks share is read first (`target.take`); if that fails, nothing is
judged and the caller reports the cluster as unreachable or unreadable. After that, a
check whose own read is refused (403, 404 of an API) becomes a warning naming the
refusal, and the other checks still run; an API server that stops answering
(status 0) or stops accepting our credentials (401) ends the run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from injector.cluster import kubeapi
from injector.core.config import Config
from injector.doctor import istio_checks, placement_checks, registration_checks, report, target

FATAL = frozenset({0, 401})


def _guarded(check: str, step: Callable[[], list[report.Check]]) -> list[report.Check]:
    try:
        return step()
    except kubeapi.ApiError as err:
        if err.status in FATAL:
            raise
        return [report.warned(check, f"cannot check: {err}", "doctor needs read access to it")]


def _lease_and_secret(where: target.Target) -> tuple[list[report.Check], Any]:
    try:
        return registration_checks.lease_and_secret(where)
    except kubeapi.ApiError as err:
        if err.status in FATAL:
            raise
        message = f"cannot read the Lease or the Secret in {where.namespace}: {err}"
        warning = report.warned(registration_checks.LEASE, message, "doctor needs get on them")
        return [warning], None


def run(where: target.Target) -> list[report.Check]:
    """All checks, in order: registration, certificates, placement, Istio's settings.
    Istio's ConfigMaps are read first: the placement checks judge with the settings the
    replicas use. Raises kubeapi.ApiError when the cluster cannot be read at all."""
    snapshot = target.take(where.cluster)
    istio_lines, effective = _istio(where)
    lease_lines, secret = _lease_and_secret(where)
    checks = registration_checks.registered(where, snapshot)
    checks += registration_checks.ca_bundle(where, snapshot, secret)
    checks += lease_lines
    checks += placement_checks.other_webhooks(where, snapshot)
    checks += placement_checks.namespaces(where, snapshot)
    checks += placement_checks.pod_security_levels(
        dataclasses.replace(where, config=effective), snapshot
    )
    checks += placement_checks.native_sidecar(where, snapshot)
    return checks + istio_lines


def _istio(where: target.Target) -> tuple[list[report.Check], Config]:
    try:
        lines, found = istio_checks.read(where)
    except kubeapi.ApiError as err:
        if err.status in FATAL:
            raise
        hint = f"doctor needs get on namespaces and configmaps in {where.istio_namespace}"
        return [report.warned(istio_checks.CONFIG, f"cannot read: {err}", hint)], where.config
    parsed, effective = istio_checks.parsed(where, found)
    lines += parsed
    current = _guarded(istio_checks.CURRENT, lambda: istio_checks.current(where, found))
    return lines + current, effective
