"""Hostile callers against the injector: CPU, latency, memory and the HTTP limits.

    .venv/bin/python bench/hostile.py                  # every scenario, this checkout
    .venv/bin/python bench/hostile.py --only cpu,edge  # some of them
    PYTHONPATH=/tmp/old bench/hostile.py ...           # another checkout's injector

Scenarios (the security review's, measured the same way):
- cpu:     CPU time of one review, in process, for 3 MiB excludeOutboundIPRanges (IPv4,
           IPv6), 3 MiB excludeOutboundPorts and 256 KiB of IPv4 ranges, and the answer's
           size;
- latency: a real server over TLS (`python -m injector serve`, own process): a normal
           review alone, then beside 4 hostile 3 MiB reviews sent at once;
- memory:  the server's RSS after 200 unique Pods with a valid 117 KiB port list (the
           excludeInboundPorts annotation, then container ports), and after 40 unique
           3 MiB reviews;
- edge:    a 300 MiB header, an idle TLS connection, a header line a second, 3000
           half-sent requests, 64 one-byte bodies beside a real review, 60 concurrent
           7 MiB bodies; what was accepted and the RSS.
Prints one JSON document. Timing varies with the machine's load; run on a quiet one.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import copy
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procstat import rss_mib

MIB = 1024 * 1024
POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"generateName": "web-", "labels": {"app": "web"}, "annotations": {}},
    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
}
EXCLUDE_RANGES = "traffic.sidecar.istio.io/excludeOutboundIPRanges"
EXCLUDE_PORTS = "traffic.sidecar.istio.io/excludeOutboundPorts"
INBOUND_PORTS = "traffic.sidecar.istio.io/excludeInboundPorts"


def review(pod: dict[str, Any], uid: str = "u") -> bytes:
    request = {
        "uid": uid,
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "operation": "CREATE",
        "namespace": "shop",
        "object": pod,
    }
    body = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    return orjson.dumps(body)


def annotated(key: str, value: str, salt: int = 0) -> dict[str, Any]:
    pod = copy.deepcopy(POD)
    pod["metadata"]["annotations"] = {key: value, "example.com/salt": str(salt)}
    return pod


def ipv4_ranges(size: int, start: int = 0) -> str:
    parts, total, n = [], 0, start
    while total < size:
        part = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}/32"
        parts.append(part)
        total, n = total + len(part) + 1, n + 1
    return ",".join(parts)


def ipv6_ranges(size: int, start: int = 0) -> str:
    parts, total, n = [], 0, start
    while total < size:
        part = f"fd00::{n // 65536:x}:{n % 65536:x}/128"
        parts.append(part)
        total, n = total + len(part) + 1, n + 1
    return ",".join(parts)


def ports(size: int, start: int = 0) -> str:
    """Ports from `start` on (a different `start`, a different list: unique Pods)."""
    parts, total, n = [], 0, start
    while total < size:
        part = str(1 + n % 65535)
        parts.append(part)
        total, n = total + len(part) + 1, n + 1
    return ",".join(parts)


# ---- cpu: in process ---------------------------------------------------------------


def cpu() -> dict[str, Any]:
    from injector.core import config, handler, template
    from injector.core.engine import Engine

    engine = Engine(config.Config(), template.load(config.DEFAULT_TEMPLATES))
    cases = {
        "ipv4-3MiB": (EXCLUDE_RANGES, ipv4_ranges(3 * MIB)),
        "ipv6-3MiB": (EXCLUDE_RANGES, ipv6_ranges(3 * MIB)),
        "ports-3MiB": (EXCLUDE_PORTS, ports(3 * MIB)),
        "ipv4-256KiB": (EXCLUDE_RANGES, ipv4_ranges(256 * 1024)),
        "normal": ("example.com/none", ""),
    }
    results = {}
    for name, (key, value) in cases.items():
        body = orjson.loads(review(annotated(key, value)))
        started = time.process_time()
        handled = handler.handle(body, engine=engine)
        seconds = time.process_time() - started
        results[name] = {
            "cpu_ms": round(seconds * 1000, 1),
            "result": handled.result,
            "answer_bytes": len(orjson.dumps(handled.answer)),
        }
    return results


# ---- a real server -----------------------------------------------------------------


class Server:
    """`python -m injector serve` in a process of its own, on a free port."""

    def __init__(self, directory: Path, config: str = "") -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        config_file = directory / "config.yaml"
        config_file.write_text(config)
        certs = directory / "certs"
        command = [sys.executable, "-m", "injector", "serve", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--cert-dir", str(certs)]
        command += ["--config", str(config_file)]
        log = (directory / "server.log").open("wb")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        self.context = ssl.create_default_context()
        deadline = time.monotonic() + 30
        while True:
            try:
                self.context.load_verify_locations(str(certs / "ca.crt"))
                self.post(review(POD))
                break
            except (OSError, ssl.SSLError):
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"the server did not start; see {directory}") from None
                time.sleep(0.2)

    def connect(self, timeout: float = 30) -> ssl.SSLSocket:
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        return self.context.wrap_socket(raw, server_hostname="127.0.0.1")

    def post(
        self, body: bytes, timeout: float = 30, sent: threading.Event | None = None
    ) -> tuple[int, float]:
        """(status, seconds) of one review on a new connection; `sent` is set once the
        whole body is written."""
        started = time.perf_counter()
        with self.connect(timeout) as sock:
            head = "POST /inject HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            sock.sendall(f"{head}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode())
            sock.sendall(body)
            if sent is not None:
                sent.set()
            answer = read_all(sock)
        return status_of(answer), time.perf_counter() - started

    def rss(self) -> float:
        return round(rss_mib(self.process.pid), 1)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def read_all(sock: ssl.SSLSocket) -> bytes:
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionError, ssl.SSLError):
        pass
    return data


def status_of(answer: bytes) -> int:
    parts = answer.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def with_server(run: Callable[[Server], dict[str, Any]], config: str = "") -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="hostile-") as directory:
        server = Server(Path(directory), config)
        try:
            return run(server)
        finally:
            server.stop()


def latency(server: Server, rounds: int = 3) -> dict[str, Any]:
    """A normal review alone, then in each round beside 4 hostile 3 MiB reviews (IPv6
    ranges, each list different: equal ones would be parsed once and remembered), sent
    once the hostile bodies are all written."""
    normal = review(POD)
    alone = sorted(server.post(normal)[1] for _ in range(5))[2]
    beside, hostile_ms, statuses = [], [], set()
    for round_ in range(rounds):
        bodies = [
            review(annotated(EXCLUDE_RANGES, ipv6_ranges(3 * MIB, (4 * round_ + n) * 10**6)))
            for n in range(4)
        ]
        sent = [threading.Event() for _ in bodies]
        with concurrent.futures.ThreadPoolExecutor(5) as pool:
            attacks = [pool.submit(server.post, body, 60, event)
                       for body, event in zip(bodies, sent, strict=True)]  # fmt: skip
            for event in sent:
                event.wait(60)
            time.sleep(0.05)  # the server has started on them
            status, seconds = pool.submit(server.post, normal).result()
            beside.append(round(seconds * 1000, 1))
            statuses.add(status)
            hostile_ms += [round(a.result()[1] * 1000) for a in attacks]
    return {
        "normal_alone_ms": round(alone * 1000, 1),
        "normal_beside_4_hostile_ms": beside,
        "normal_beside_statuses": sorted(statuses),
        "hostile_ms_max": max(hostile_ms),
        "hostile_ms_median": sorted(hostile_ms)[len(hostile_ms) // 2],
    }


def memory(server: Server) -> dict[str, Any]:
    found = {"start_mib": server.rss()}
    for n in range(200):
        server.post(review(annotated(INBOUND_PORTS, ports(117 * 1024, start=n), salt=n)))
    found["after_200_pods_117KiB_annotation_port_list_mib"] = server.rss()
    for n in range(200):
        pod = copy.deepcopy(POD)
        pod["spec"]["containers"][0]["ports"] = [
            {"containerPort": 20000 + n + i} for i in range(5400)
        ]
        server.post(review(pod))
    found["after_200_pods_117KiB_container_ports_mib"] = server.rss()
    statuses = set()
    for n in range(40):
        body = review(annotated(EXCLUDE_PORTS, ports(3 * MIB, start=n), salt=n))
        statuses.add(server.post(body)[0])
    found["after_40_unique_3MiB_reviews_mib"] = server.rss()
    found["3MiB_statuses"] = sorted(statuses)
    return found


# ---- edge: the HTTP limits ---------------------------------------------------------

HEAD = b"POST /inject HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"


def huge_header(server: Server, total: int = 300 * MIB) -> dict[str, Any]:
    sent, chunk = 0, b"a" * (1 * MIB)
    started = time.monotonic()
    with server.connect(timeout=10) as sock:
        sock.sendall(HEAD + b"X-Big: ")
        try:
            while sent < total:
                sock.sendall(chunk)
                sent += len(chunk)
        except (OSError, ssl.SSLError):
            pass
        seconds = time.monotonic() - started
        sock.settimeout(5)
        answer = read_all(sock)
    return {"header_mib_sent_before_close": sent // MIB, "sending_s": round(seconds, 1),
            "status": status_of(answer), "rss_mib": server.rss()}  # fmt: skip


def idle(server: Server, limit: float = 30) -> dict[str, Any]:
    started = time.monotonic()
    with server.connect(timeout=limit) as sock:
        answer = read_all(sock)
    lived = time.monotonic() - started
    return {"idle_connection_lived_s": round(lived, 1), "closed_by_server": lived < limit - 0.5,
            "status": status_of(answer)}  # fmt: skip


def slow_header(server: Server, limit: float = 30) -> dict[str, Any]:
    started = time.monotonic()
    lines = 0
    with server.connect(timeout=2) as sock:
        sock.sendall(b"POST /inject HTTP/1.1\r\n")
        try:
            while time.monotonic() - started < limit:
                sock.sendall(b"X-Line-%d: slow\r\n" % lines)
                lines += 1
                sock.settimeout(1)
                try:
                    sock.recv(4096)  # an answer, or the close
                    break
                except TimeoutError:
                    continue
        except (OSError, ssl.SSLError):
            pass
    return {"header_lines_sent": lines, "cut_off_after_s": round(time.monotonic() - started, 1)}


def half_sent(server: Server, count: int = 3000) -> dict[str, Any]:
    held: list[ssl.SSLSocket] = []
    refused = 0
    for _ in range(count):
        try:
            sock = server.connect(timeout=5)
            sock.sendall(HEAD)  # the head never ends
            held.append(sock)
        except (OSError, ssl.SSLError):
            refused += 1
    time.sleep(1)
    open_now = 0
    for sock in held:
        sock.setblocking(False)
        try:
            open_now += sock.recv(1) != b""
        except (BlockingIOError, ssl.SSLWantReadError):
            open_now += 1
        except (OSError, ssl.SSLError):
            pass
    rss = server.rss()
    for sock in held:
        sock.close()
    return {"half_sent_requests_held": open_now, "refused_at_connect": refused, "rss_mib": rss}


def one_byte_bodies(server: Server) -> dict[str, Any]:
    held = []
    for _ in range(64):
        sock = server.connect()
        sock.sendall(HEAD + b"Content-Length: 100\r\n\r\n{")
        held.append(sock)
    status, seconds = server.post(review(POD))
    for sock in held:
        sock.close()
    return {"real_review_status": status, "real_review_ms": round(seconds * 1000, 1)}


def big_bodies(server: Server, size: int) -> dict[str, Any]:
    body = b'{"pad":"' + b"a" * (size - 10) + b'"}'

    def send() -> int:
        return server.post(body, timeout=60)[0]

    with concurrent.futures.ThreadPoolExecutor(60) as pool:
        statuses = list(pool.map(lambda _n: send(), range(60)))
    counts = {str(status): statuses.count(status) for status in sorted(set(statuses))}
    return {"statuses": counts, "rss_mib_after": server.rss()}


def edge(server: Server) -> dict[str, Any]:
    return {
        "start_rss_mib": server.rss(),
        "huge_header": huge_header(server),
        "idle": idle(server),
        "slow_header": slow_header(server),
        "half_sent": half_sent(server),
        "one_byte_bodies": one_byte_bodies(server),
        "big_bodies_4MiB_less_1KiB": big_bodies(server, 4 * MIB - 1024),
        "big_bodies_7MiB": big_bodies(server, 7 * MIB),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="cpu,latency,memory,edge")
    wanted = parser.parse_args().only.split(",")
    import injector

    found: dict[str, Any] = {"injector": os.path.dirname(injector.__file__)}
    if "cpu" in wanted:
        found["cpu"] = cpu()
    if "latency" in wanted:
        found["latency"] = with_server(latency)
    if "memory" in wanted:
        found["memory"] = with_server(memory)
    if "edge" in wanted:
        found["edge"] = with_server(edge)
    print(json.dumps(found, indent=2))


if __name__ == "__main__":
    main()
