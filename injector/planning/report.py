"""A namespace's plan for people (a short table) and for machines (JSON, a stable
contract: one object per namespace, keys as documented in docs/plan.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from injector.planning import quantities, resources
from injector.planning.namespace_plan import NamespacePlan, WorkloadPlan

COLUMNS = ("KIND", "NAME", "PODS", "INJECT", "REASON", "+REQUESTS cpu/mem", "+LIMITS cpu/mem")
ALWAYS = ("cpu", "memory")


def amounts(values: Mapping[str, Any]) -> dict[str, str]:
    """Quantities as text, cpu and memory always present."""
    shown = {name: quantities.render(values.get(name, 0)) for name in ALWAYS}
    shown.update({n: quantities.render(v) for n, v in sorted(values.items()) if n not in ALWAYS})
    return shown


def _both(added: Mapping[str, resources.Amounts] | None) -> dict[str, dict[str, str]] | None:
    if added is None:
        return None
    return {kind: amounts(added[kind]) for kind in resources.KINDS}


def _workload(plan: WorkloadPlan) -> dict[str, Any]:
    return {
        "kind": plan.workload.kind,
        "name": plan.workload.name,
        "pods": plan.workload.pods,
        "inject": plan.inject,
        "result": plan.result,
        "reason": plan.reasons[0] if plan.reasons else "",
        "reasons": list(plan.reasons),
        "perPod": _both(plan.per_pod),
        "added": _both(plan.added),
    }


def document(plan: NamespacePlan) -> dict[str, Any]:
    """The JSON object of one namespace's plan."""
    show = quantities.render
    return {
        "namespace": plan.namespace,
        "label": "=".join(plan.label),
        "safe": plan.safe,
        "workloads": [_workload(w) for w in plan.workloads],
        "added": _both(plan.added),
        "quotas": [
            {
                "name": line.quota,
                "resource": line.resource,
                "hard": show(line.hard),
                "used": show(line.used),
                "increase": show(line.increase),
                "after": show(line.used + line.increase),
                "exceeded": line.exceeded,
            }
            for line in plan.quota_lines
        ],
        "problems": [
            {"kind": p.kind, "name": p.name, "workload": p.workload, "message": p.message}
            for p in plan.problems
        ],
        "notes": list(plan.notes),
    }


def render_json(plans: Sequence[NamespacePlan]) -> str:
    """One object for one namespace, a list of them for several."""
    docs = [document(p) for p in plans]
    data: Any = docs[0] if len(docs) == 1 else docs
    return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n"


def _printable(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _pair(values: Mapping[str, str] | None) -> str:
    return "?" if values is None else f"{values['cpu']}/{values['memory']}"


def _rows(plan: NamespacePlan) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [COLUMNS]
    for w in plan.workloads:
        added = _both(w.added)
        rows.append((
            w.workload.kind,
            w.workload.name,
            "?" if w.workload.pods is None else str(w.workload.pods),
            {"injected": "yes", "skipped": "no", "denied": "REFUSED"}[w.result],
            ",".join(w.reasons),
            _pair(None if added is None else added["requests"]),
            _pair(None if added is None else added["limits"]),
        ))  # fmt: skip
    return rows


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    rows = [tuple(map(_printable, row)) for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  ".join([*(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)), row[-1]])
        for row in rows
    ]


def _verdict(plan: NamespacePlan) -> str:
    label = "=".join(plan.label)
    if plan.safe:
        return f"namespace {plan.namespace}: labelling it {label} is safe"
    count = len(plan.problems)
    return (
        f"namespace {plan.namespace}: labelling it {label} would break"
        f" {count} thing{'s' if count != 1 else ''}"
    )


def render_text(plans: Sequence[NamespacePlan]) -> str:
    lines: list[str] = []
    for plan in plans:
        if lines:
            lines.append("")
        lines.append(_verdict(plan))
        lines += _table(_rows(plan)) if plan.workloads else ["no workloads"]
        total = _both(plan.added) or {}
        lines.append(
            f"added in all (cpu/memory): requests {_pair(total['requests'])},"
            f" limits {_pair(total['limits'])}"
        )
        # An exceeded quota is among the problems below; one that fits is said here.
        lines += [f"quota {q.quota}: {q.message()}" for q in plan.quota_lines if not q.exceeded]
        for problem in plan.problems:
            lines.append(
                f"PROBLEM {problem.kind} {problem.name} ({problem.workload}): {problem.message}"
            )
        lines += [f"note: {note}" for note in plan.notes]
    return "".join(f"{_printable(line)}\n" for line in lines)
