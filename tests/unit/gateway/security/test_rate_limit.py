"""The per-connection token bucket and the close after consecutive refusals."""

from __future__ import annotations

from haws.gateway.security.rate_limit import CommandLimiter, TokenBucket
from tests.support.clock import ManualClock


def test_bucket_allows_burst_then_rate() -> None:
    clock = ManualClock()
    bucket = TokenBucket(rate=10, burst=5, clock=clock)
    assert [bucket.take() for _ in range(6)] == [True] * 5 + [False]
    clock.now += 0.1  # one token back
    assert bucket.take()
    assert not bucket.take()
    clock.now += 100  # never above the burst
    assert sum(bucket.take() for _ in range(10)) == 5


def test_strikes_count_refusals_up_and_admissions_down() -> None:
    clock = ManualClock()
    limiter = CommandLimiter(rate=1, burst=1, strikes=3, clock=clock)
    assert limiter.admit()
    assert [limiter.admit() for _ in range(2)] == [False, False]  # strikes 2
    clock.now += 1.0
    assert limiter.admit()  # strikes 1
    assert not limiter.admit()  # strikes 2
    assert not limiter.exhausted
    assert not limiter.admit()  # strikes 3
    assert limiter.exhausted
    assert limiter.limited == 4


def test_a_flood_far_over_the_rate_is_closed_a_little_over_is_not() -> None:
    clock = ManualClock()
    flood = CommandLimiter(rate=100, burst=100, strikes=300, clock=clock)
    steady = CommandLimiter(rate=100, burst=100, strikes=300, clock=clock)
    for n in range(10_000):  # 10 s: 1000/s for one, 150/s for the other
        clock.now = n / 1000
        flood.admit()
        if n % 1000 < 150:
            steady.admit()
    assert flood.exhausted
    assert not steady.exhausted
    assert steady.limited > 0


def test_zero_rate_is_unlimited_and_zero_strikes_never_close() -> None:
    assert all(CommandLimiter(0, 1, 3).admit() for _ in range(10_000))
    limiter = CommandLimiter(1, 1, 0, clock=ManualClock())
    for _ in range(100):
        limiter.admit()
    assert not limiter.exhausted
