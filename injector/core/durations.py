"""Durations as people write them on a command line or in the configuration file.

One strict grammar, `<digits><unit>` with the unit `s`, `m`, `h` or `d` (`90s`, `15m`,
`24h`, `3650d`), shared by `serve --cert-validity` and the `certificates.*` keys. No
sign, no fraction, no spaces, no combinations such as `1h30m`, and zero is refused: a
certificate lifetime of "nothing" is always a typo.
"""

from __future__ import annotations

import datetime
import re

_DURATION = re.compile(r"([1-9][0-9]{0,9})([smhd])", re.ASCII)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Beyond this `datetime` arithmetic overflows; no certificate should live that long.
_MAX = datetime.timedelta(days=100 * 365)


class DurationError(ValueError):
    """The text is not a duration in the accepted grammar."""


def parse(text: str) -> datetime.timedelta:
    """`90s` -> 90 seconds; raises DurationError for anything else."""
    match = _DURATION.fullmatch(text)
    if match is None:
        raise DurationError(
            f"{text!r} is not a duration: expected a positive whole number and a unit "
            "s, m, h or d (e.g. 90s, 15m, 24h, 7d)"
        )
    value = datetime.timedelta(seconds=int(match[1]) * _UNIT_SECONDS[match[2]])
    if value > _MAX:
        raise DurationError(f"{text!r} is longer than 100 years")
    return value


def format_duration(value: datetime.timedelta) -> str:
    """The shortest exact spelling in the same grammar: 86400 s -> `1d`, 90 s -> `90s`."""
    seconds = int(value.total_seconds())
    if seconds <= 0 or seconds != value.total_seconds():
        raise DurationError(f"{value} is not a positive whole number of seconds")
    for unit in ("d", "h", "m"):
        if seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"
