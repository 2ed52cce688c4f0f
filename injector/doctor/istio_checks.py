"""Istio's ConfigMaps: there, parsed, and what our replicas use.

- `istio-config`: ConfigMaps `istio` and `istio-sidecar-injector` (`-<rev>` for istiod's
  revision) in Istio's namespace exist and parse (`injector.istio_config`): an error
  fails the check (the replicas keep their last good settings and miss the change), each
  warning (what we read but do not model) warns.
- `istio-config-current`: each running replica's /metrics, read through the API server's
  Pod proxy, report for sources `istio-mesh` and `istio-injector` the ConfigMaps'
  current resourceVersion and healthy settings. Unreadable (no RBAC for pods/proxy, a
  Pod not answering) is a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from injector import istio_config
from injector.cluster import kubeapi
from injector.core.config import Config, ConfigError
from injector.doctor import report, settings_metrics
from injector.doctor.target import Target
from injector.istio_config import configmaps

CONFIG, CURRENT = "istio-config", "istio-config-current"
MESH, INJECTOR = "istio-mesh", "istio-injector"
POD_LABELS = {"app.kubernetes.io/name": "sidecar-injector"}
PORT_NAME, DEFAULT_PORT = "https-webhook", 9443
GUIDE = "docs/beside-istiod.md"

ConfigMaps = dict[str, tuple[str, dict[str, Any] | None]]  # source -> (name, ConfigMap)


def configmap_names(revision: str) -> dict[str, str]:
    return dict(zip((MESH, INJECTOR), configmaps.names(revision), strict=True))


def read(target: Target) -> tuple[list[report.Check], ConfigMaps]:
    """The ConfigMaps (None where missing or unreadable) and a line for each problem."""
    ns, cluster = target.istio_namespace, target.cluster
    if cluster.get_namespace(ns) is None:
        message = f"no namespace {ns}: no Istio installation to follow there"
        hint = "pass --istio-namespace where istiod runs, if it runs elsewhere"
        return [report.warned(CONFIG, message, hint)], {}
    checks, found = [], {}
    for source, name in configmap_names(target.istio_revision).items():
        try:
            configmap = cluster.get_configmap(ns, name)
        except kubeapi.ApiError as err:
            if err.status == 0:
                raise
            checks.append(
                report.warned(
                    CONFIG,
                    f"cannot read ConfigMap {ns}/{name}: {err}",
                    f"doctor needs get on configmaps in {ns}",
                )
            )
            configmap = None
        else:
            if configmap is None:
                checks.append(
                    report.warned(
                        CONFIG,
                        f"no ConfigMap {ns}/{name}: the injector keeps its own settings",
                        "pass --istio-revision for a revisioned istiod (istio-<rev>,"
                        " istio-sidecar-injector-<rev>)",
                    )
                )
        found[source] = (name, configmap)
    return checks, found


def parsed(target: Target, found: ConfigMaps) -> tuple[list[report.Check], Config]:
    """Istio's reader over the ConfigMaps found: errors fail, warnings warn. Also the
    settings the replicas would use (the injector's own when nothing parses)."""
    present = {source: cm for source, (_name, cm) in found.items() if cm is not None}
    if not present:
        return [], target.config
    ns = target.istio_namespace
    mesh, injector = present.get(MESH), present.get(INJECTOR)
    sources = configmaps.sources(
        ns, target.istio_revision, (mesh or {}).get("data"), (injector or {}).get("data")
    )
    try:
        settings = istio_config.load(target.config, sources)
    except ConfigError as err:
        hint = "fix the ConfigMap; until then the replicas keep their last good settings"
        return [report.failed(CONFIG, str(err), hint)], target.config
    checks = [
        report.warned(CONFIG, str(w), f"the injector does not apply it: see {GUIDE}")
        for w in settings.warnings
    ]
    names = " and ".join(f"{ns}/{found[s][0]}" for s in present)
    return [report.passed(CONFIG, f"ConfigMaps {names} parse"), *checks], settings.config


def _port(pod: Mapping[str, Any]) -> int:
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == PORT_NAME and isinstance(port.get("containerPort"), int):
                return int(port["containerPort"])
    return DEFAULT_PORT


def _replicas(target: Target) -> list[dict[str, Any]]:
    pods = target.cluster.list_pods(target.namespace)
    return [
        p
        for p in pods
        if all(
            ((p.get("metadata") or {}).get("labels") or {}).get(k) == v
            for k, v in POD_LABELS.items()
        )
        and (p.get("status") or {}).get("phase") == "Running"
    ]


def _compare(pod: str, reported: Mapping[str, Any], found: ConfigMaps) -> list[report.Check]:
    checks = []
    for source, (name, configmap) in found.items():
        if configmap is None:
            continue
        version = str((configmap.get("metadata") or {}).get("resourceVersion", ""))
        entry = reported.get(source)
        if entry is None:
            message = f"replica {pod} does not report reading ConfigMap {name}"
            hint = "run serve with --istio-namespace (the namespace of Istio's ConfigMaps)"
        elif entry.healthy is False:
            message = f"replica {pod} ignores a broken ConfigMap {name}, keeping the last good"
            hint = "see the istio-config line above and the replica's logs"
        elif entry.versions != {version}:
            used = ", ".join(sorted(entry.versions)) or "none"
            message = f"replica {pod} uses ConfigMap {name} version {used}, current {version}"
            hint = "a change reaches the replicas within seconds; if it stays, see their logs"
        else:
            continue
        checks.append(report.warned(CURRENT, message, hint))
    return checks


def current(target: Target, found: ConfigMaps) -> list[report.Check]:
    """Each running replica against the ConfigMaps' resourceVersions."""
    if not any(cm is not None for _name, cm in found.values()):
        return []
    replicas, checks = _replicas(target), []
    if not replicas:
        hint = f"kubectl -n {target.namespace} get pods"
        return [report.warned(CURRENT, f"no running replica in {target.namespace}", hint)]
    for pod in replicas:
        name = str(pod["metadata"].get("name", ""))
        try:
            text = target.cluster.pod_metrics(target.namespace, name, _port(pod))
        except kubeapi.ApiError as err:
            message = f"cannot read /metrics of {name} through the API server: {err}"
            hint = f"doctor needs get on pods/proxy in {target.namespace}"
            checks.append(report.warned(CURRENT, message, hint))
            continue
        checks += _compare(name, settings_metrics.read(text), found)
    if not checks:
        versions = ", ".join(
            f"{name} {(cm.get('metadata') or {}).get('resourceVersion')}"
            for name, cm in found.values()
            if cm is not None
        )
        message = f"{len(replicas)} replicas use the current ConfigMaps ({versions})"
        checks.append(report.passed(CURRENT, message))
    return checks
