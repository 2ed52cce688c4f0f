"""Background loops of the certificate lifecycle: a daemon thread that runs one step, sleeps
until the step's next decision is due (or until woken by a watch event), and never dies
of an error. Stopping is prompt: `stop()` wakes the thread and joins it.
"""

from __future__ import annotations

import datetime
import logging
import threading
from collections.abc import Callable

log = logging.getLogger("injector.certificates")

Clock = Callable[[], datetime.datetime]
# However far off the next decision is, look again this often (a file may have been
# edited, a watch event missed) and never spin faster than the floor.
MAX_SLEEP_SECONDS = 10.0
MIN_SLEEP_SECONDS = 0.05
RETRY_SECONDS = 1.0


def seconds_until(moment: datetime.datetime | None, now: datetime.datetime) -> float:
    if moment is None:
        return MAX_SLEEP_SECONDS
    wait = (moment - now).total_seconds()
    return min(MAX_SLEEP_SECONDS, max(MIN_SLEEP_SECONDS, wait))


class Loop:
    """Runs `tick` on a daemon thread until stopped; `tick` returns seconds to sleep."""

    def __init__(self, name: str, tick: Callable[[], float]) -> None:
        self.name, self._tick = name, tick
        self._stop, self._wake = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    @property
    def stopping(self) -> threading.Event:
        """Set once `stop` was called; for watches that run beside the loop."""
        return self._stop

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                delay = self._tick()
            except Exception:  # a loop that dies leaves a certificate to expire
                log.exception("certificate loop failed; retrying", extra={"loop": self.name})
                delay = RETRY_SECONDS
            self._wake.wait(delay)
