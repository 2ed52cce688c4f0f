"""Graceful shutdown of the real process: SIGTERM during a burst of reviews.

During the drain window every review is answered (kept-alive connections are closed after
their answer, new ones are accepted), a review in flight when the listener closes still
completes, then new connections are refused and the process exits cleanly.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from support import http_cases, servers

DRAIN_SECONDS = 2.0
BODY = http_cases.load_fixture("create-pod")


def _start(
    tmp_path: Path, port: int, drain: float = DRAIN_SECONDS, stderr: int = subprocess.DEVNULL
) -> subprocess.Popen[bytes]:
    config = tmp_path / "config.yaml"
    config.write_text(f"server: {{drainSeconds: {drain}, shutdownTimeoutSeconds: 10}}\n")
    command = [sys.executable, "-m", "injector", "serve", "--port", str(port),
               "--cert-dir", str(tmp_path / "certs"), "--config", str(config)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise AssertionError("server did not start")


def _burst(url: str, ca: Path, stop_at: float, results: list[tuple[float, bool]]) -> None:
    verify = servers.ssl.create_default_context(cafile=str(ca))
    kept = httpx.Client(verify=verify, timeout=10)
    fresh_turn = False
    while time.monotonic() < stop_at:
        sent = time.monotonic()
        try:
            if fresh_turn:
                with httpx.Client(verify=verify, timeout=10) as fresh:
                    response = fresh.post(f"{url}/inject", json=BODY)
            else:
                response = kept.post(f"{url}/inject", json=BODY)
            ok = response.status_code == 200 and "patch" in response.json()["response"]
        except httpx.HTTPError:
            ok = False
        results.append((sent, ok))
        fresh_turn = not fresh_turn
    kept.close()


def _slow_review(port: int, ca: Path, release_at: float, answers: list[bytes]) -> None:
    """Send the headers now and the body later, after the listener has closed."""
    body = http_cases.json.dumps(BODY).encode()
    raw = socket.create_connection(("127.0.0.1", port), timeout=15)
    context = servers.ssl.create_default_context(cafile=str(ca))
    with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(b"POST /inject HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(body))  # fmt: skip
        time.sleep(max(0.0, release_at - time.monotonic()))
        tls.sendall(body)
        answers.append(tls.recv(65536))


def test_sigterm_during_a_burst_loses_no_review(tmp_path: Path) -> None:
    port = servers.free_port()
    process = _start(tmp_path, port)
    url, ca = f"https://127.0.0.1:{port}", tmp_path / "certs" / "ca.crt"
    try:
        start = time.monotonic()
        term_at, drain_end = start + 1.0, start + 1.0 + DRAIN_SECONDS
        results: list[tuple[float, bool]] = []
        slow_answers: list[bytes] = []
        workers = [
            threading.Thread(target=_burst, args=(url, ca, drain_end - 0.3, results))
            for _ in range(4)
        ]
        slow = threading.Thread(target=_slow_review, args=(port, ca, drain_end + 0.5, slow_answers))
        workers.append(slow)
        for worker in workers:
            worker.start()
        time.sleep(max(0.0, term_at - time.monotonic()))
        os.kill(process.pid, signal.SIGTERM)
        for worker in workers:
            worker.join(timeout=30)
        failures = [sent - start for sent, ok in results if not ok]
        during_drain = [sent for sent, _ in results if sent > term_at]
        print(f"\nshutdown: {len(results)} reviews, {len(during_drain)} during the drain window,"
              f" {len(failures)} failed; slow review answered: {bool(slow_answers)}")  # fmt: skip
        assert len(results) > 20 and len(during_drain) > 5
        assert failures == [], f"{len(failures)} of {len(results)} reviews failed"
        assert slow_answers and slow_answers[0].startswith(b"HTTP/1.1 200")
        time.sleep(max(0.0, drain_end + 1.0 - time.monotonic()))
        refused = False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        except ConnectionRefusedError:
            refused = True
        assert refused, "the listener is closed after the drain window"
        # After a graceful stop uvicorn re-raises the signal it caught, so the process
        # ends "by SIGTERM" as supervisors expect (exit status 143 in a container).
        assert process.wait(timeout=15) == -signal.SIGTERM
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_ctrl_c_stops_at_once_without_a_drain_window_or_a_traceback(tmp_path: Path) -> None:
    port = servers.free_port()
    process = _start(tmp_path, port, drain=60, stderr=subprocess.PIPE)
    try:
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        _out, log = process.communicate(timeout=10)
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert took < 5, f"SIGINT took {took:.1f} s with a 60 s drain window"
    assert b"Traceback" not in log, log.decode()
    assert b"draining" not in log
    assert process.returncode == 0
