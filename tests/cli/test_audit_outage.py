"""`audit` against an API server that is away: it gives up after `--request-timeout`
(one line that says what failed, exit 2), fails at once on a closed port, and Ctrl+C
stops it at once (one line, exit 130, no traceback). Run as a user runs it: a process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from support import faulty_api, servers

from injector.cli import main


def _audit(kubeconfig: Path, *flags: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "injector", "audit", "--kubeconfig", str(kubeconfig), *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_audit_gives_up_on_a_silent_server_after_its_request_timeout(tmp_path: Path) -> None:
    with faulty_api.hanging() as server:
        kubeconfig = faulty_api.kubeconfig(tmp_path / "kc", server.url)
        process = _audit(kubeconfig, "--request-timeout", "1s")
        assert server.accepted.acquire(timeout=30), "audit never connected"
        connected = time.monotonic()
        _out, err = process.communicate(timeout=30)
        took = time.monotonic() - connected
    assert process.returncode == 2
    assert err == (
        f"sidecar-injector: audit: the API server at {server.url} sent no answer within 1s\n"
    )
    assert took < 3.0
    assert len(server.connections) == 1


def test_audit_against_a_closed_port_says_so_in_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{servers.free_port()}"
    process = _audit(faulty_api.kubeconfig(tmp_path / "kc", url))
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 2
    said = f"cannot connect to the API server at {url}: connection refused"
    assert err == f"sidecar-injector: audit: {said}\n"


def test_ctrl_c_stops_audit_at_once_with_one_line_and_status_130(tmp_path: Path) -> None:
    with faulty_api.hanging() as server:
        process = _audit(faulty_api.kubeconfig(tmp_path / "kc", server.url))
        assert server.accepted.acquire(timeout=30), "audit never connected"
        time.sleep(0.2)  # blocked reading the answer that never comes
        interrupted = time.monotonic()
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=30)
        took = time.monotonic() - interrupted
    assert process.returncode == 130
    assert err == "sidecar-injector: interrupted\n"
    assert took < 1.0


def test_the_request_timeout_must_be_a_duration(capsys: object) -> None:
    try:
        main.main(["audit", "--request-timeout", "soon"])
    except SystemExit as exit_:
        assert exit_.code == 2
    else:
        raise AssertionError("a bad --request-timeout was accepted")
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert "argument --request-timeout: 'soon' is not a duration" in err
