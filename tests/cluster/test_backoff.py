"""The pause before trying the API server again: doubling from `first` to `cap`, jitter
taken off at random (a fixed random source here), a Retry-After honoured as a floor."""

from __future__ import annotations

import pytest

from injector.cluster.backoff import Backoff


def _pauses(backoff: Backoff, count: int) -> list[float]:
    return [round(backoff.failed(), 3) for _ in range(count)]


def test_without_jitter_the_pause_doubles_up_to_the_cap() -> None:
    backoff = Backoff(first=0.5, cap=5.0, random=lambda: 0.0)
    assert _pauses(backoff, 6) == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_jitter_takes_at_most_its_share_off_each_pause() -> None:
    backoff = Backoff(first=1.0, cap=8.0, jitter=0.5, random=lambda: 1.0)
    assert _pauses(backoff, 4) == [0.5, 1.0, 2.0, 4.0]


def test_two_replicas_with_different_luck_do_not_retry_in_step() -> None:
    lucky = Backoff(first=1.0, random=iter([0.1, 0.9, 0.3]).__next__)
    unlucky = Backoff(first=1.0, random=iter([0.8, 0.2, 0.6]).__next__)
    assert _pauses(lucky, 3) != _pauses(unlucky, 3)


def test_a_success_starts_the_schedule_again() -> None:
    backoff = Backoff(first=0.5, cap=30.0, random=lambda: 0.0)
    _pauses(backoff, 5)
    backoff.succeeded()
    assert backoff.failed() == 0.5


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        pytest.param(7.0, 7.0, id="a-longer-retry-after-is-a-floor"),
        pytest.param(0.1, 0.5, id="a-shorter-retry-after-does-not-shorten-the-pause"),
        pytest.param(3600.0, 60.0, id="an-hour-is-capped-at-a-minute"),
        pytest.param(None, 0.5, id="none-sent"),
    ],
)
def test_a_retry_after_from_the_server_is_a_capped_floor(
    retry_after: float | None, expected: float
) -> None:
    backoff = Backoff(first=0.5, random=lambda: 0.0)
    assert backoff.failed(retry_after) == expected


def test_the_pause_stays_finite_after_very_many_failures() -> None:
    backoff = Backoff(first=0.5, cap=30.0, random=lambda: 0.0, failures=10_000)
    assert backoff.failed() == 30.0
