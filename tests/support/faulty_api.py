"""API servers that fail, on real sockets on 127.0.0.1, for the tests of bounded calls:
one that accepts connections and never answers (`hanging`), one that answers every
request with a queued status, headers and body (`answering`: 500s, 429 with
Retry-After), and a kubeconfig pointing at either (or at a closed port)."""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def kubeconfig(path: Path, server: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "faulty", "cluster": {"server": server}}],
        "users": [{"name": "tester", "user": {"token": "t0k3n"}}],
        "contexts": [{"name": "faulty", "context": {"cluster": "faulty", "user": "tester"}}],
        "current-context": "faulty",
    }
    path.write_text(json.dumps(config))
    return path


@dataclass
class Hanging:
    url: str
    accepted: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    connections: list[socket.socket] = field(default_factory=list)


@contextlib.contextmanager
def hanging() -> Iterator[Hanging]:
    """Accepts every connection, reads nothing, answers nothing, closes at exit."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    server = Hanging(f"http://127.0.0.1:{listener.getsockname()[1]}")
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            server.connections.append(conn)
            server.accepted.release()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in server.connections:
            conn.close()
        listener.close()


Answer = tuple[int, dict[str, str], Any]  # status, headers, JSON body


@dataclass
class Answering:
    url: str
    answers: list[Answer]
    requests: int = 0


@contextlib.contextmanager
def answering(*answers: Answer) -> Iterator[Answering]:
    """Answers requests with `answers` in turn (the last one again and again)."""
    state = Answering("", list(answers))

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            state.requests += 1
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, headers, body = state.answers[0]
            if len(state.answers) > 1:
                state.answers.pop(0)
            data = json.dumps(body).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_PUT = do_PATCH = do_GET

        def log_message(self, *_args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
