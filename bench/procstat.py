"""CPU time and memory of processes, read from /proc (Linux only)."""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process, in seconds (10 ms resolution)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def peak_rss_mib(pid: int) -> float:
    """VmHWM: the most resident memory the process has had."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mib(pid: int | str = "self") -> float:
    """VmRSS: resident memory now."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def machine_busy_seconds() -> float:
    """CPU seconds spent by the whole machine outside idle and iowait, all CPUs."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq + steal) / TICK


def children_cpu_seconds() -> float:
    """CPU seconds of the children this process has waited for (here: wrk runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Window:
    """CPU spent while a measured run lasts: by the server, by wrk, by everything else."""

    server: float = 0.0
    client: float = 0.0
    machine: float = 0.0
    wall: float = 0.0

    @property
    def other_pct(self) -> float:
        """CPU used by other processes (not the server, not wrk), % of one core."""
        other = self.machine - self.server - self.client
        return max(other, 0.0) * 100 / self.wall if self.wall else 0.0


def snapshot(pid: int) -> Window:
    return Window(cpu_seconds(pid), children_cpu_seconds(), machine_busy_seconds(), time.time())


def since(start: Window, pid: int) -> Window:
    now = snapshot(pid)
    return Window(
        now.server - start.server,
        now.client - start.client,
        now.machine - start.machine,
        now.wall - start.wall,
    )


def background_pct(seconds: float = 2.0) -> float:
    """CPU the machine spends while this process sleeps, % of one core."""
    start = machine_busy_seconds()
    time.sleep(seconds)
    return (machine_busy_seconds() - start) * 100 / seconds


def wait_idle(pid: int, *, timeout: float = 120.0) -> None:
    """Wait until the process stops using CPU: work queued by a previous run is done."""
    deadline = time.monotonic() + timeout
    last = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = cpu_seconds(pid)
        if now - last <= 1 / TICK:
            return
        last = now
