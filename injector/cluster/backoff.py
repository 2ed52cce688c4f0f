"""How long to wait before trying the API server again: exponential backoff with jitter.

Pure: the random source is passed in, so tests fix it. Each failure doubles the pause
(from `first` up to `cap`); jitter takes up to `jitter` of it off at random, so that
replicas cut off together do not come back in step and call the API server at the same
instant. A `Retry-After` the server sent (a 429, or a 503 while it starts) is honoured
as a floor, itself capped at `max_retry_after`, so a wrong header cannot stall a loop
for hours. A success resets the schedule.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

# A Retry-After longer than this is taken as this: the loops must look again in time.
MAX_RETRY_AFTER_SECONDS = 60.0


@dataclass
class Backoff:
    """The pause before the next attempt after each consecutive failure."""

    first: float = 0.5
    cap: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5  # the share of the pause that may be taken off at random
    max_retry_after: float = MAX_RETRY_AFTER_SECONDS
    random: Callable[[], float] = field(default=random.random, repr=False)
    failures: int = 0

    def base(self) -> float:
        """The pause before jitter, for the failures counted so far (one at least)."""
        exponent = max(0, self.failures - 1)
        return float(min(self.cap, self.first * self.factor ** min(exponent, 64)))

    def failed(self, retry_after: float | None = None) -> float:
        """Count one more failure; the seconds to wait before the next attempt."""
        self.failures += 1
        pause = self.base() * (1.0 - self.jitter * self.random())
        if retry_after is not None and retry_after > 0:
            pause = max(pause, min(retry_after, self.max_retry_after))
        return pause

    def succeeded(self) -> None:
        self.failures = 0
