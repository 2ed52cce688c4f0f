"""A check's verdict, and the report of all of them: text for people, JSON for machines.

Each check yields one or more `Check` lines: pass, warn or fail, a message, and on warn or
fail a hint that says what to do. Only a fail makes the exit status 1 (it stops or
misdirects injection); warnings never change it. Everything read from the cluster reaches
the terminal escaped: no control character is printed raw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import orjson

PASS, WARN, FAIL = "pass", "warn", "fail"


@dataclass(frozen=True)
class Check:
    check: str  # a stable id, e.g. "webhook-registered"
    status: str  # pass | warn | fail
    message: str
    hint: str = ""


def passed(check: str, message: str) -> Check:
    return Check(check, PASS, message)


def warned(check: str, message: str, hint: str) -> Check:
    return Check(check, WARN, message, hint)


def failed(check: str, message: str, hint: str) -> Check:
    return Check(check, FAIL, message, hint)


def exit_status(checks: Sequence[Check]) -> int:
    """1 when any check failed, else 0 (warnings do not count)."""
    return 1 if any(c.status == FAIL for c in checks) else 0


def escaped(text: str) -> str:
    """`text` with every character that is not printable shown as its escape."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def counted(count: int, noun: str) -> str:
    """`1 namespace`, `2 namespaces`: a count and its noun, in English."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def render_text(checks: Sequence[Check]) -> str:
    """One line per check (`[pass] id: message`), the hint indented below it, then a
    summary line."""
    lines = []
    for c in checks:
        lines.append(f"[{c.status}] {c.check}: {escaped(c.message)}")
        if c.hint:
            lines.append(f"       -> {escaped(c.hint)}")
    counts = {s: sum(1 for c in checks if c.status == s) for s in (PASS, WARN, FAIL)}
    verdict = "injection is blocked or misdirected" if counts[FAIL] else "no blocking problem"
    lines.append(
        f"{counts[PASS]} passed, {counted(counts[WARN], 'warning')}, {counts[FAIL]} failed:"
        f" {verdict}"
    )
    return "".join(f"{line}\n" for line in lines)


def render_json(checks: Sequence[Check]) -> str:
    """A list of {check, status, message, hint}, in the order the checks ran."""
    document = [asdict(c) for c in checks]
    return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n"
