"""Full-jitter backoff: bounds, cap, growth and reset."""

from __future__ import annotations

import random

import pytest

from haws.client.backoff import Backoff, full_jitter


def test_every_wait_is_within_zero_and_the_exponential_ceiling() -> None:
    rng = random.Random(7)
    for attempt in range(8):
        ceiling = min(30.0, 0.5 * 2**attempt)
        waits = [full_jitter(0.5, 30.0, attempt, rng) for _ in range(500)]
        assert all(0.0 <= w <= ceiling for w in waits)
        # Full jitter: spread over the whole window, not bunched at its top.
        assert min(waits) < ceiling * 0.05
        assert max(waits) > ceiling * 0.95


def test_the_cap_holds_for_any_attempt_without_overflowing() -> None:
    rng = random.Random(1)
    assert all(full_jitter(0.5, 30.0, a, rng) <= 30.0 for a in (10, 100, 10_000))


class TopOfWindow(random.Random):
    """Always the ceiling, so the window itself can be asserted."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_next_widens_the_window_and_reset_starts_over() -> None:
    backoff = Backoff(0.5, 4.0, TopOfWindow())
    assert [backoff.next() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    backoff.reset()
    assert backoff.attempt == 0
    assert backoff.next() == 0.5


@pytest.mark.parametrize(("base", "cap"), [(0.0, 1.0), (2.0, 1.0), (-1.0, 5.0)])
def test_bad_settings_are_refused(base: float, cap: float) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(base, cap)
