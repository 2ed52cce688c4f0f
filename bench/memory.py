"""Memory over many reviews of the large fixture, in-process.

    python bench/memory.py [--first 10000] [--total 200000] [--path handler|app] [--cold]

`handler` (default): orjson.loads + handler.handle + orjson.dumps per review, the core
and its codec. `app`: the whole FastAPI app through one ASGI call per review, with
metrics and JSON logging (to /dev/null). Prints RSS after `first` and after `total`
reviews (after a gc.collect) and the growth between them; a steady injector grows by
about nothing. `--cold`: every review carries a Pod never seen before (the fixture's
`bench-nonce` label numbered per review), so every outcome is a new one to remember and
only the bound on remembered outcomes keeps memory flat.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import time
from collections.abc import Callable
from pathlib import Path

import fixtures
import inproc
import orjson
import procstat

from injector.core import handler

Bodies = Callable[[], bytes]


def bodies(body: bytes, *, cold: bool) -> Bodies:
    """The next request body: always the same one, or (cold) one with a new nonce."""
    if not cold:
        return lambda: body
    numbers = itertools.count()
    nonce = fixtures.NONCE.encode()
    return lambda: body.replace(nonce, f"nonce-{next(numbers):010d}".encode())


def handler_path(body: Bodies) -> Callable[[int], None]:
    engine = inproc.engine()

    def run(count: int) -> None:
        for _ in range(count):
            raw = body()
            answer = handler.handle(orjson.loads(raw), engine=engine, raw=raw).answer
            orjson.dumps(answer)

    return run


def app_path(body: Bodies) -> Callable[[int], None]:
    inproc.json_logs_to_devnull()
    app = inproc.app()
    loop = asyncio.new_event_loop()

    async def many(count: int) -> None:
        for _ in range(count):
            status, _answer = await inproc.call(app, body())
            if status != 200:
                raise RuntimeError(f"HTTP {status}")

    return lambda count: loop.run_until_complete(many(count))


def rss_after_collect() -> float:
    gc.collect()
    return procstat.rss_mib()


def main() -> None:
    parser = argparse.ArgumentParser(description="RSS after many reviews of one fixture.")
    parser.add_argument("--first", type=int, default=10_000)
    parser.add_argument("--total", type=int, default=200_000)
    parser.add_argument("--path", choices=["handler", "app"], default="handler")
    parser.add_argument("--fixture", choices=fixtures.NAMES, default="large")
    parser.add_argument("--cold", action="store_true", help="a new Pod every review")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    body = bodies(fixtures.body(args.fixture), cold=args.cold)
    run = (handler_path if args.path == "handler" else app_path)(body)
    started = time.perf_counter()
    run(args.first)
    first = rss_after_collect()
    run(args.total - args.first)
    last = rss_after_collect()
    seconds = time.perf_counter() - started
    figures = {
        "path": args.path,
        "fixture": args.fixture,
        "mode": "cold" if args.cold else "warm",
        f"rss_mib_after_{args.first}": round(first, 1),
        f"rss_mib_after_{args.total}": round(last, 1),
        "growth_mib": round(last - first, 1),
        "us_per_review": round(seconds * 1e6 / args.total, 1),
    }
    print(
        f"memory ({args.path}, {args.fixture}, {figures['mode']}): RSS after "
        f"{args.first:,} reviews {first:.1f} MiB, after {args.total:,} {last:.1f} MiB, "
        f"growth {last - first:+.1f} MiB "
        f"({figures['us_per_review']} µs/review)"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
