"""The load benchmark: every server x fixture x connection count, under wrk over TLS.

For each server and fixture a fresh server process is started (`servers.py`), one call
is checked (HTTP 200, allowed: true, a JSONPatch, the uid echoed), then for 1 and 32
keep-alive connections: a warm-up run, and a measured run during which the server's CPU
time (utime+stime from /proc/<pid>/stat) is read before and after. Peak RSS is VmHWM
from /proc/<pid>/status. Servers are stopped whatever happens.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import fixtures
import procstat
import report
import servers

BENCH = Path(__file__).resolve().parent
SERVERS = ("floor", "naive", "ours")
CONNECTIONS = (1, 32)
# warm: the same Pod every request (a scale-up of one workload); cold: a Pod never seen
# before on every request (a new Deployment, a rollout, every Job), see wrk.lua.
MODES = ("cold", "warm")


@dataclass
class Settings:
    duration: int
    warmup: int
    out: Path
    servers: tuple[str, ...]
    fixtures: tuple[str, ...]
    repeat: int = 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(kind: str, port: int, cert_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, str(BENCH / "servers.py"), kind]
    command += ["--port", str(port), "--cert-dir", str(cert_dir)]
    with log.open("wb") as stderr:
        return subprocess.Popen(command, stdout=stderr, stderr=stderr, cwd=BENCH.parent)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def post(port: int, body: bytes, tls: ssl.SSLContext) -> tuple[int, bytes]:
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=tls, timeout=30)
    try:
        conn.request("POST", "/inject", body, {"Content-Type": "application/json"})
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def check_answer(status: int, raw: bytes, body: bytes) -> None:
    """Fail unless the answer injects: 200, allowed, a JSONPatch, the request's uid."""
    response = json.loads(raw)["response"] if status == 200 else {}
    uid = json.loads(body)["request"]["uid"]
    ops = json.loads(base64.b64decode(response.get("patch", ""))) if "patch" in response else []
    if not (response.get("allowed") is True and response.get("uid") == uid and ops):
        raise RuntimeError(f"not injected: HTTP {status}: {raw[:300]!r}")


def wait_ready(proc: subprocess.Popen[bytes], port: int, body: bytes, cert_dir: Path) -> None:
    tls = ssl.create_default_context(cafile=str(cert_dir / "ca.crt"))
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode}")
        try:
            status, raw = post(port, body, tls)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    check_answer(status, raw, body)


def wrk(
    port: int, body_file: Path, connections: int, seconds: int, *, cold: bool
) -> dict[str, Any]:
    threads = 1 if connections == 1 else 2
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s"]
    command += ["--timeout", "60s", "--latency", "-s", str(BENCH / "wrk.lua")]
    command.append(f"https://127.0.0.1:{port}/inject")
    env = {**os.environ, "BENCH_BODY": str(body_file), "BENCH_COLD": "1" if cold else "0"}
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=seconds + 120, check=False
    )
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return dict(json.loads(line.removeprefix("BENCH_JSON ")))
    raise RuntimeError(f"wrk printed no result (status {done.returncode}): {done.stderr}")


def measure(
    kind: str,
    fixture: str,
    connections: int,
    mode: str,
    *,
    proc: subprocess.Popen[bytes],
    port: int,
    body: Path,
    s: Settings,
) -> report.Run:
    """One row: a warm-up, a wait until the server is idle, the measured run."""
    cold = mode == "cold"
    wrk(port, body, connections, s.warmup, cold=cold)
    procstat.wait_idle(proc.pid)
    start = procstat.snapshot(proc.pid)
    result = wrk(port, body, connections, s.duration, cold=cold)
    window = procstat.since(start, proc.pid)
    rss = procstat.peak_rss_mib(proc.pid)
    run = report.from_wrk(kind, fixture, connections, mode=mode, wrk=result, cpu=window, rss=rss)
    procstat.wait_idle(proc.pid)
    print(report.progress(run), file=sys.stderr, flush=True)
    return run


def bench_fixture(fixture: str, body_file: Path, s: Settings) -> list[report.Run]:
    """Every server on one fixture, row by row: the servers run side by side (an idle
    one costs nothing) and take turns on each row, so the rows a ratio compares are
    measured seconds apart, not minutes, and a machine whose speed drifts (a shared VM)
    moves them together. With `repeat` > 1 the turns go round that many times and each
    server's row is its least disturbed run (the lowest CPU per review), as
    `bench/cold.py` keeps the best of its rounds."""
    cert_dir, started = s.out / "certs", {}
    runs = []
    try:
        for kind in s.servers:
            port = free_port()
            log = s.out / "logs" / f"{kind}-{fixture}.log"
            started[kind] = (start(kind, port, cert_dir, log), port)
            wait_ready(started[kind][0], port, body_file.read_bytes(), cert_dir)
        for connections in CONNECTIONS:
            for mode in MODES:
                best: dict[str, report.Run] = {}
                for _round in range(s.repeat):
                    for kind, (proc, port) in started.items():
                        run = measure(
                            kind, fixture, connections, mode,
                            proc=proc, port=port, body=body_file, s=s,
                        )  # fmt: skip
                        if kind not in best or run.cpu_us < best[kind].cpu_us:
                            best[kind] = run
                runs += best.values()
    finally:
        for proc, _port in started.values():
            stop(proc)
    return runs


def run_all(s: Settings) -> list[report.Run]:
    (s.out / "logs").mkdir(parents=True, exist_ok=True)
    servers.ensure_certs(s.out / "certs")
    paths = fixtures.write_all(s.out / "fixtures")
    runs: list[report.Run] = []
    for fixture in s.fixtures:
        runs += bench_fixture(fixture, paths[fixture], s)
    return sorted(runs, key=lambda r: s.servers.index(r.server))


def main() -> None:
    parser = argparse.ArgumentParser(description="Load benchmark: floor vs naive vs ours.")
    parser.add_argument("--duration", type=int, default=10, help="measured seconds per run")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up seconds per run")
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--fixtures", default=",".join(fixtures.NAMES))
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per row and server; the least disturbed is kept"
    )
    args = parser.parse_args()
    settings = Settings(
        args.duration,
        args.warmup,
        args.out,
        tuple(args.servers.split(",")),
        tuple(args.fixtures.split(",")),
        max(1, args.repeat),
    )
    background = procstat.background_pct()
    if background > 20:
        print(f"warning: the machine is busy ({background:.0f}% of a core before start)")
    runs = run_all(settings)
    meta = {"duration_s": args.duration, "warmup_s": args.warmup, **report.environment()}
    meta["busy_before_pct"] = round(background)
    meta["repeat"] = settings.repeat
    text = report.render(runs, meta)
    print(text)
    (args.out / "load.md").write_text(text + "\n")
    data = {"meta": meta, "runs": [asdict(r) for r in runs], "ratios": report.ratios(runs)}
    (args.out / "load.json").write_text(json.dumps(data, indent=2) + "\n")
    print(f"\nwritten: {args.out / 'load.md'}, {args.out / 'load.json'}")


if __name__ == "__main__":
    main()
