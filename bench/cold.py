"""The cold path in-process: every Pod new, measured in ways the machine's load disturbs least.

    python bench/cold.py [--fixture small|large] [--count N] [--mode time|profile|loop]
                         [--render plan|diff]

Each review carries a Pod never seen before (its `bench-nonce` label differs), so nothing
remembered by Pod content helps. Per review: `orjson.loads` of the body, `handler.handle`,
`orjson.dumps` of the answer (what the app does apart from HTTP, metrics and logs), with
the garbage collector tuned as `serve` tunes it.
- time: µs per `handler.handle`, the best of 5 rounds (the least disturbed);
- profile: cProfile over `count` reviews, the top functions by own time;
- loop: just the reviews, for `valgrind --tool=callgrind` (run once with `--count N`
  and once with `3N`: the difference over 2N is instructions per review, without the
  first render's one-time work that a difference against `--count 0` still holds).

`--render diff` injects as the engine did before render plans (the template rendered
per Pod, the injected Pod built and diffed: the plans' oracle), for a comparison in
the same run.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

import fixtures
import inproc
import jsonpatch
import orjson

from injector.core import handler
from injector.server import process


def injected(name: str) -> bytes:
    """The fixture's body with its Pod injected already: the API server's second call."""
    review = orjson.loads(fixtures.body(name))
    pod = review["request"]["object"]
    outcome = inproc.engine().inject(pod, namespace=fixtures.NAMESPACE, ns=None)
    review["request"]["object"] = jsonpatch.apply_patch(pod, outcome.ops or [])
    return orjson.dumps(review)


def bodies(name: str, count: int, start: int = 0, *, again: bool = False) -> list[bytes]:
    """`count` request bodies of the fixture, each with its own nonce (same length);
    `again`: of the Pod injected already."""
    raw = injected(name) if again else fixtures.body(name)
    nonce = fixtures.NONCE.encode()
    return [raw.replace(nonce, f"nonce-{i:010d}".encode()) for i in range(start, start + count)]


def main() -> None:
    parser = argparse.ArgumentParser(description="The cold path in-process.")
    parser.add_argument("--fixture", choices=fixtures.NAMES, default="small")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--mode", choices=["time", "profile", "loop"], default="time")
    parser.add_argument("--injected", action="store_true", help="Pods injected already")
    parser.add_argument("--render", choices=["plan", "diff"], default="plan")
    args = parser.parse_args()
    engine = inproc.engine(args.render)
    reviews = bodies(args.fixture, args.count, again=args.injected)
    process.tune_runtime()

    def run() -> None:
        for raw in reviews:
            answer = handler.handle(orjson.loads(raw), engine=engine, raw=raw).answer
            orjson.dumps(answer)

    if args.mode == "loop":
        run()
    elif args.mode == "profile":
        profiler = cProfile.Profile()
        profiler.runcall(run)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    else:
        best = float("inf")
        for round_ in range(1, 6):
            started = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - started)
            reviews = bodies(
                args.fixture, args.count, start=round_ * args.count, again=args.injected
            )  # never seen
        what = "injected already" if args.injected else "cold"
        per_review = best * 1e6 / args.count
        print(f"{what} {args.fixture} ({args.render}): {per_review:.1f} µs/review (best of 5)")


if __name__ == "__main__":
    main()
