"""`audit`: the operator's view of the Pods already running.

Three findings, decided with the webhook's own engine and the namespaces' labels:
- missing:   no sidecar, yet the engine would inject (or refuse) the Pod if it were created
             now; e.g. created before its namespace was labelled, or while the webhook
             was down under a failurePolicy of Ignore;
- outdated:  injected by a configuration whose `configHash` (in `sidecar.istio.io/status`)
             is not the current one, or with no hash at all (another injector);
             a status with the current hash counts as missing when the containers and
             volumes it records are not all in the Pod (anyone can write the annotation);
- opted-out: the Pod itself said no (label or annotation `sidecar.istio.io/inject=false`).
Missing and outdated are drift: `run` returns 1 when there is any (0 otherwise), so the
command can gate a pipeline. Pods that have finished (Succeeded, Failed) are not checked.

Classifying and rendering are pure; only `run` talks to the cluster. What a Pod carries
reaches the terminal escaped: no control character (an ANSI escape, a carriage return)
is ever printed raw.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, TextIO

import orjson

from injector.cluster import kubeapi, namespace_cache
from injector.core import grammar, handler, names, policy
from injector.core.engine import Engine

MISSING, OUTDATED, OPTED_OUT = "missing", "outdated", "opted-out"
DRIFT = (MISSING, OUTDATED)
OPT_OUT_REASONS = frozenset({policy.POD_LABEL_DISABLED, policy.POD_ANNOTATION_DISABLED})
FINISHED_PHASES = frozenset({"Succeeded", "Failed"})
COLUMNS = ("NAMESPACE", "POD", "OWNER", "FINDING", "DETAIL")


class AuditError(Exception):
    """The audit cannot run (e.g. the namespace does not exist)."""


@dataclass(frozen=True)
class Finding:
    namespace: str
    pod: str
    owner: str  # Kind/name of the Pod's controller, or ""
    finding: str
    reasons: tuple[str, ...]
    detail: str


@dataclass(frozen=True)
class Report:
    config_hash: str
    checked: int
    findings: tuple[Finding, ...]

    def count(self, finding: str) -> int:
        return sum(1 for f in self.findings if f.finding == finding)

    @property
    def drift(self) -> bool:
        return any(f.finding in DRIFT for f in self.findings)


def _sentences(reasons: Iterable[str]) -> str:
    return "; ".join(policy.SENTENCES.get(r, r) for r in reasons)


def _injected_finding(status: str, engine: Engine) -> tuple[str, str] | None:
    """(finding, detail) for a Pod that carries the status annotation."""
    fingerprint = engine.fingerprint
    try:
        recorded = orjson.loads(status)
    except orjson.JSONDecodeError:
        recorded = None
    config_hash = recorded.get("configHash") if isinstance(recorded, dict) else None
    if not isinstance(config_hash, str):
        return OUTDATED, f"{names.STATUS} records no configHash (another injector?)"
    if config_hash != fingerprint:
        shown = grammar.printable(config_hash)
        return OUTDATED, f"injected with configHash {shown}, current is {fingerprint}"
    return None


def _proxy_name(pod: Mapping[str, Any], engine: Engine) -> str | None:
    """The proxy the Pod's template injects (None: none, as grpc-simple)."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    try:
        return engine.template.select(annotations.get(names.TEMPLATES)).proxy_name
    except ValueError:
        return engine.template.proxy_name


def _absent(pod: Mapping[str, Any], recorded: Mapping[str, Any], engine: Engine) -> list[str]:
    """What a status annotation with the current hash records (or must record: the
    proxy of the Pod's template) that the Pod does not have."""
    spec = pod.get("spec") or {}
    proxy = _proxy_name(pod, engine)

    def named(key: str) -> set[str]:
        items = spec.get(key)
        listed = items if isinstance(items, list) else []
        return {str(item.get("name")) for item in listed if isinstance(item, dict)}

    absent = []
    for key in ("containers", "initContainers", "volumes"):
        wanted = recorded.get(key)
        for name in wanted if isinstance(wanted, list) else []:
            if not isinstance(name, str) or name not in named(key):
                absent.append(f"{key} {grammar.printable(str(name))}")
    if proxy is not None and proxy not in named("containers") | named("initContainers"):
        absent.append(f"the proxy container {proxy}")
    return list(dict.fromkeys(absent))


def _status_finding(status: str, pod: Mapping[str, Any], engine: Engine) -> tuple[str, str] | None:
    found = _injected_finding(status, engine)
    if found is not None:
        return found
    recorded = orjson.loads(status)
    absent = _absent(pod, recorded, engine)
    if absent:
        return MISSING, f"{names.STATUS} claims an injection, but the Pod lacks " + ", ".join(
            absent
        )
    return None


def classify(
    pod: Mapping[str, Any], *, engine: Engine, ns: policy.Namespace
) -> tuple[str, tuple[str, ...], str] | None:
    """(finding, reason codes, detail) for one running Pod, or None when it is as the
    current configuration would make it."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    status = annotations.get(names.STATUS)
    if isinstance(status, str):
        found = _status_finding(status, pod, engine)
        return None if found is None else (found[0], (), found[1])
    outcome = engine.inject(pod, namespace=ns.name, ns=ns)
    reasons = tuple(outcome.reasons)
    if outcome.result == "injected":
        return MISSING, reasons, f"would be injected now: {_sentences(reasons)}"
    if outcome.result == "denied":
        return MISSING, reasons, f"would be refused now: {outcome.message}"
    if OPT_OUT_REASONS.intersection(reasons):
        return OPTED_OUT, reasons, _sentences(r for r in reasons if r in OPT_OUT_REASONS)
    return None


def _owner(pod: Mapping[str, Any]) -> str:
    owner = handler.controller_of(pod)
    return "" if owner is None else f"{owner.kind}/{owner.name}"


def audit(
    pods: Iterable[Mapping[str, Any]], known: Mapping[str, policy.Namespace], engine: Engine
) -> Report:
    """Classify every running Pod whose namespace is known."""
    checked, findings = 0, []
    for pod in pods:
        metadata = pod.get("metadata") or {}
        ns = known.get(str(metadata.get("namespace", "")))
        if ns is None or (pod.get("status") or {}).get("phase") in FINISHED_PHASES:
            continue
        checked += 1
        found = classify(pod, engine=engine, ns=ns)
        if found is not None:
            name = str(metadata.get("name", ""))
            findings.append(Finding(ns.name, name, _owner(pod), *found))
    order = {MISSING: 0, OUTDATED: 1, OPTED_OUT: 2}
    findings.sort(key=lambda f: (order[f.finding], f.namespace, f.pod))
    return Report(engine.fingerprint, checked, tuple(findings))


def _summary(report: Report) -> str:
    missing, outdated = report.count(MISSING), report.count(OUTDATED)
    verdict = f"drift: {missing} missing, {outdated} outdated" if report.drift else "no drift"
    return (
        f"{report.checked} Pods checked, {verdict}; {report.count(OPTED_OUT)} opted out"
        f" (configHash {report.config_hash})"
    )


def escaped(text: str) -> str:
    """`text` with every character that is not printable shown as its escape."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def render_table(report: Report) -> str:
    """Findings as aligned columns (kubectl style), then a one-line summary."""
    lines: list[str] = []
    if report.findings:
        rows = [COLUMNS] + [
            tuple(map(escaped, (f.namespace, f.pod, f.owner or "-", f.finding, f.detail)))
            for f in report.findings
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
            lines.append("  ".join([*cells, row[-1]]))
    return "".join(f"{line}\n" for line in [*lines, _summary(report)])


def render_json(report: Report) -> str:
    document = {
        "configHash": report.config_hash,
        "checked": report.checked,
        "drift": report.drift,
        "counts": {kind: report.count(kind) for kind in (MISSING, OUTDATED, OPTED_OUT)},
        "pods": [{**asdict(f), "reasons": list(f.reasons)} for f in report.findings],
    }
    return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n"


def _namespaces(cluster: kubeapi.Cluster, namespace: str | None) -> dict[str, policy.Namespace]:
    if namespace is None:
        items, _version = cluster.list_namespaces()
    else:
        found = cluster.get_namespace(namespace)
        if found is None:
            raise AuditError(f"namespace {namespace} not found")
        items = [found]
    views = (namespace_cache.from_object(item) for item in items)
    return {view.name: view for view in views}


def run(
    cluster: kubeapi.Cluster, engine: Engine, *, namespace: str | None, output: str, out: TextIO
) -> int:
    """Audit one namespace (or all, for None), write the report; 1 on drift, else 0."""
    known = _namespaces(cluster, namespace)
    report = audit(cluster.list_pods(namespace), known, engine)
    out.write(render_json(report) if output == "json" else render_table(report))
    return 1 if report.drift else 0
