"""Where the time goes: cProfile over many reviews, in-process.

    python bench/profiling.py [--count N] [--out DIR]

Profiles `handler.handle` on the decoded small and large fixtures, and the whole ASGI
app (FastAPI + orjson + handler + metrics + JSON logging to /dev/null) on the same
bodies. Prints, for each, the costliest functions by cumulative time as a % of the
profiled total, and writes the full listings to DIR/profile-<target>.txt.
(Not named profile.py: that would shadow the stdlib module cProfile imports.)
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
from collections.abc import Callable
from pathlib import Path

import fixtures
import inproc
import orjson

from injector.core import handler

BENCH = Path(__file__).resolve().parent
# Frames of this harness and of the event loop plumbing, left out of the top list.
PLUMBING = ("profiling.py", "inproc.py", "asyncio/", "{method 'run", "{built-in method _asyncio")


def target_handle(name: str) -> Callable[[int], None]:
    engine = inproc.engine()
    decoded = orjson.loads(fixtures.body(name))

    def run(count: int) -> None:
        for _ in range(count):
            handler.handle(decoded, engine=engine)

    return run


def target_app(name: str) -> Callable[[int], None]:
    inproc.json_logs_to_devnull()
    app, body = inproc.app(), fixtures.body(name)
    loop = asyncio.new_event_loop()

    async def many(count: int) -> None:
        for _ in range(count):
            await inproc.call(app, body)

    return lambda count: loop.run_until_complete(many(count))


def label(func: tuple[str, int, str]) -> str:
    filename, line, name = func
    if filename == "~":
        return name
    for marker in ("site-packages/", "/injector/", "/lib/python3."):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            if marker == "/injector/":
                filename = "injector/" + filename
            elif marker == "/lib/python3.":
                filename = filename.split("/", 1)[1]
            break
    return f"{filename}:{line}({name})"


Row = tuple[str, float, float]
# Named parts of the app path: (label, file fragment, function name).
PARTS = (
    ("handler.handle", "injector/core/handler.py", "handle"),
    ("review_body.read_body", "injector/server/review_body.py", "read_body"),
    ("orjson.loads", "~", "<orjson.loads>"),
    ("orjson.dumps", "~", "<orjson.dumps>"),
    ("logging (log.info)", "logging/__init__.py", "info"),
    ("metrics.answered", "injector/telemetry/metrics.py", "answered"),
)


def rows(stats: pstats.Stats) -> list[Row]:
    """(function, cumulative %, own %) for every function, plumbing left out."""
    table = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for _cc, _nc, tt, _ct, _callers in table.values())
    found = []
    for func, (_cc, _nc, tt, ct, _callers) in table.items():
        text = label(func)
        if not any(p in text or p in func[0] for p in PLUMBING):
            found.append((text, min(ct * 100 / total, 100.0), tt * 100 / total))
    return found


def by_cumulative(found: list[Row], limit: int) -> list[Row]:
    """Costliest by cumulative time, minus pass-through wrappers (>= 85 %, own < 1 %)."""
    kept = [r for r in found if not (r[1] >= 85 and r[2] < 1)]
    return sorted(kept, key=lambda r: r[1], reverse=True)[:limit]


def parts(stats: pstats.Stats) -> list[tuple[str, float]]:
    table = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in table.values())
    shares = []
    for text, fragment, name in PARTS:
        ct = sum(
            v[3]
            for (file, _line, func), v in table.items()
            if func == name and (fragment in file or fragment == file)
        )
        shares.append((text, ct * 100 / total))
    shares.append(("everything else (FastAPI, Starlette, ASGI)", 100 - sum(s for _t, s in shares)))
    return shares


def show(title: str, stats: pstats.Stats, count: int, limit: int) -> None:
    found = rows(stats)
    print(f"\n{title}  ({count:,} reviews)  top by cumulative % (own %):")
    for text, cumulative, own in by_cumulative(found, limit):
        print(f"  {cumulative:5.1f}%  ({own:4.1f}%)  {text}")
    print(f"{title}  top by own %:")
    for text, _cumulative, own in sorted(found, key=lambda r: r[2], reverse=True)[:8]:
        print(f"  {own:5.1f}%  {text}")
    if title.startswith("app-"):
        print(f"{title}  split of the app path (cumulative %):")
        for text, share in parts(stats):
            print(f"  {share:5.1f}%  {text}")


def profile(title: str, run: Callable[[int], None], count: int, out: Path, limit: int) -> None:
    run(max(count // 10, 1))  # warm caches and lazy imports first
    profiler = cProfile.Profile()
    profiler.runcall(run, count)
    listing = io.StringIO()
    stats = pstats.Stats(profiler, stream=listing)
    stats.sort_stats("cumulative").print_stats(60)
    (out / f"profile-{title}.txt").write_text(listing.getvalue())
    show(title, stats, count, limit)


def main() -> None:
    parser = argparse.ArgumentParser(description="cProfile the handler and the app.")
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--limit", type=int, default=15)
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in ("small", "large"):
        profile(f"handle-{name}", target_handle(name), args.count, args.out, args.limit)
    for name in ("small", "large"):
        profile(f"app-{name}", target_app(name), args.count, args.out, args.limit)


if __name__ == "__main__":
    main()
