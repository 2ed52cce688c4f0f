"""The load benchmark's table and the ratios the project targets, as markdown and JSON."""

from __future__ import annotations

import importlib.util
import os
import platform
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from procstat import Window


@dataclass
class Run:
    """One measured wrk run against one server."""

    server: str
    fixture: str
    connections: int
    mode: str
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    cpu_us: float
    rss_mib: float
    errors: int
    non2xx: int
    other_cpu_pct: float


def from_wrk(
    server: str,
    fixture: str,
    connections: int,
    *,
    mode: str,
    wrk: dict[str, Any],
    cpu: Window,
    rss: float,
) -> Run:
    requests = int(wrk["requests"])
    errors = sum(int(wrk[k]) for k in ("connect", "read", "write", "status", "timeout"))
    return Run(
        server=server,
        fixture=fixture,
        connections=connections,
        mode=mode,
        requests=requests,
        rps=requests / (wrk["duration_us"] / 1e6),
        p50_ms=wrk["p50_us"] / 1000,
        p99_ms=wrk["p99_us"] / 1000,
        max_ms=wrk["max_us"] / 1000,
        cpu_us=cpu.server * 1e6 / requests if requests else float("nan"),
        rss_mib=rss,
        errors=errors + int(wrk["non2xx"]),
        non2xx=int(wrk["non2xx"]),
        other_cpu_pct=cpu.other_pct,
    )


HEADER = (
    "| server | fixture | conns | mode | req/s | p50 ms | p99 ms | max ms | CPU µs/review "
    "| peak RSS MiB | errors (non-2xx) | other CPU % |"
)


def row(r: Run) -> str:
    return (
        f"| {r.server} | {r.fixture} | {r.connections} | {r.mode} | {r.rps:,.0f} | {r.p50_ms:.2f} "
        f"| {r.p99_ms:.2f} | {r.max_ms:.2f} | {r.cpu_us:,.0f} | {r.rss_mib:.1f} "
        f"| {r.errors} ({r.non2xx}) | {r.other_cpu_pct:.0f} |"
    )


def progress(r: Run) -> str:
    return f"  {r.server:5} {r.fixture:7} c={r.connections:<2} {r.mode} " + row(r)


def _find(runs: list[Run], server: str, fixture: str, conns: int, mode: str) -> Run | None:
    for r in runs:
        if (r.server, r.fixture, r.connections, r.mode) == (server, fixture, conns, mode):
            return r
    return None


# (what, fixture, connections, mode, metric, numerator, denominator, target, at most?)
Target = tuple[str, str, int, str, str, str, str, float, bool]
CPU = "CPU µs/review ours/floor"
TARGETS: list[Target] = [
    (CPU, "small", 1, "cold", "cpu_us", "ours", "floor", 1.3, True),
    (CPU, "small", 1, "warm", "cpu_us", "ours", "floor", 1.15, True),
    (CPU, "large", 1, "cold", "cpu_us", "ours", "floor", 1.3, True),
    (CPU, "large", 1, "warm", "cpu_us", "ours", "floor", 1.15, True),
    (CPU, "extreme", 1, "cold", "cpu_us", "ours", "floor", 0.5, True),
    (CPU, "extreme", 1, "warm", "cpu_us", "ours", "floor", 0.5, True),
    (CPU, "small", 32, "cold", "cpu_us", "ours", "floor", 1.5, True),
    (CPU, "small", 32, "warm", "cpu_us", "ours", "floor", 1.3, True),
    ("throughput ours/naive", "large", 32, "cold", "rps", "ours", "naive", 15.0, False),
    ("throughput ours/naive", "large", 32, "warm", "rps", "ours", "naive", 15.0, False),
    ("p99 latency ours/floor", "small", 1, "cold", "p99_ms", "ours", "floor", 1.5, True),
    ("p99 latency ours/floor", "small", 1, "warm", "p99_ms", "ours", "floor", 1.5, True),
    ("p99 latency ours/floor", "large", 1, "cold", "p99_ms", "ours", "floor", 1.5, True),
    ("p99 latency ours/floor", "large", 1, "warm", "p99_ms", "ours", "floor", 1.5, True),
]


def ratios(runs: list[Run]) -> list[dict[str, Any]]:
    """Every target whose two runs were measured, with its ratio and verdict."""
    found = []
    for what, fixture, conns, mode, metric, num, den, target, at_most in TARGETS:
        a, b = _find(runs, num, fixture, conns, mode), _find(runs, den, fixture, conns, mode)
        if a is None or b is None or not getattr(b, metric):
            continue
        value = getattr(a, metric) / getattr(b, metric)
        met: Callable[[float, float], bool] = (
            (lambda v, t: v <= t) if at_most else (lambda v, t: v >= t)
        )
        found.append(
            {
                "what": what,
                "fixture": fixture,
                "connections": conns,
                "mode": mode,
                "ratio": round(value, 2),
                "target": f"{'≤' if at_most else '≥'}{target:g}",
                "met": met(value, target),
            }
        )
    return found


def render(runs: list[Run], meta: dict[str, Any]) -> str:
    lines = ["## Load (wrk over TLS, HTTP/1.1 keep-alive)", ""]
    lines += [", ".join(f"{k}={v}" for k, v in meta.items()), "", HEADER]
    lines.append("|---" * 12 + "|")
    lines += [row(r) for r in runs]
    lines += [
        "",
        "## Ratios (targets)",
        "",
        "| ratio | fixture | conns | mode | value | target | |",
    ]
    lines.append("|---|---|---|---|---|---|---|")
    for q in ratios(runs):
        verdict = "met" if q["met"] else "NOT MET"
        lines.append(
            f"| {q['what']} | {q['fixture']} | {q['connections']} | {q['mode']} | {q['ratio']:.2f} "
            f"| {q['target']} | {verdict} |"
        )
    return "\n".join(lines)


def environment() -> dict[str, Any]:
    """What the numbers depend on: CPUs, Python, the HTTP stack uvicorn picked."""
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    have = importlib.util.find_spec
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "http": "httptools" if have("httptools") else "h11",
        "loop": "uvloop" if have("uvloop") else "asyncio",
        "wrk": (wrk.stdout or wrk.stderr).split(" [")[0].strip(),
    }
