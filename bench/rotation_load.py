"""Certificate rotation under real load: zero failed requests, counted.

Starts `sidecar-injector serve` (standalone, self-issued certificates) with a serving
certificate that lives a few seconds, then loads it for a while with two wrk runs at
once, as fast as they go: one over kept-alive connections (as kube-apiserver sends)
and one opening a new connection, so a new TLS handshake, for every request. At the
end it reads the rotation count from /metrics and prints requests, errors and
rotations. Any error (connect, read, write, timeout, non-2xx) is a failure.

    .venv/bin/python bench/rotation_load.py [--seconds 30] [--validity 6s]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import fixtures
import orjson

BENCH = Path(__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wrk(port: int, body: Path, connections: int, seconds: int, close: bool) -> dict[str, Any]:
    command = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s"]
    command += ["-s", str(BENCH / "wrk.lua"), f"https://127.0.0.1:{port}/inject"]
    env = {**os.environ, "BENCH_BODY": str(body), "BENCH_CLOSE": "1" if close else "0"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False,
                          timeout=seconds + 60)  # fmt: skip
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return dict(json.loads(line.removeprefix("BENCH_JSON ")))
    raise RuntimeError(f"wrk printed no result: {done.stderr}")


def _metric(port: int, ca: Path, name: str) -> float:
    context = ssl.create_default_context(cafile=str(ca))
    with urllib.request.urlopen(f"https://127.0.0.1:{port}/metrics", context=context) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def _wait_ready(port: int, ca: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            context = ssl.create_default_context(cafile=str(ca))
            urllib.request.urlopen(f"https://127.0.0.1:{port}/readyz", context=context).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not become ready")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--validity", default="6s")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rotation-load-"))
    body = work / "small.json"
    body.write_bytes(orjson.dumps(fixtures.review("small", fixtures.small_pod())))
    port, cert_dir = _free_port(), work / "certs"
    command = [sys.executable, "-m", "injector", "serve", "--port", str(port),
               "--cert-dir", str(cert_dir), "--cert-validity", args.validity]  # fmt: skip
    log = (work / "server.log").open("wb")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_ready(port, cert_dir / "ca.crt")
        before = _metric(port, cert_dir / "ca.crt", "sidecar_injector_certificate_rotations_total")
        results: dict[str, dict[str, Any]] = {}
        runs = {"kept-alive": (8, False), "new connection each": (4, True)}
        threads = [
            threading.Thread(
                target=lambda n=name, c=conns, x=close: results.__setitem__(
                    n, _wrk(port, body, c, args.seconds, x)
                )
            )
            for name, (conns, close) in runs.items()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        after = _metric(port, cert_dir / "ca.crt", "sidecar_injector_certificate_rotations_total")
    finally:
        server.terminate()
        server.wait(timeout=30)
    _report(results, after - before, args)


def _report(results: dict[str, dict[str, Any]], rotations: float, args: argparse.Namespace) -> None:
    print(f"rotation under load: {args.seconds} s, certificate validity {args.validity}")
    total_failures = 0
    for name, r in results.items():
        failures = r["non2xx"] + r["connect"] + r["read"] + r["write"] + r["timeout"]
        total_failures += failures
        rate = r["requests"] / (r["duration_us"] / 1e6)
        print(f"  {name:22} requests {r['requests']:7d}  ({rate:6.0f}/s)  failures {failures}"
              f"  (connect {r['connect']}, read {r['read']}, write {r['write']},"
              f" timeout {r['timeout']}, non-2xx {r['non2xx']})")  # fmt: skip
    print(f"  rotations during the run: {rotations:.0f}")
    print(f"  RESULT: {'PASS' if total_failures == 0 and rotations >= 3 else 'FAIL'}"
          f" ({total_failures} failed requests)")  # fmt: skip


if __name__ == "__main__":
    main()
