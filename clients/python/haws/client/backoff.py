"""Exponential backoff with full jitter.

Full jitter (a uniformly random wait between zero and the exponential ceiling)
spreads a whole fleet of clients that lost the same node over the window
instead of bringing them back in synchronised waves.
"""

from __future__ import annotations

import random

_MAX_EXPONENT = 64  # 2**64 * any sane base is far beyond every cap; avoids float overflow


def full_jitter(base: float, cap: float, attempt: int, rng: random.Random | None = None) -> float:
    """A wait in ``[0, min(cap, base * 2**attempt)]``."""
    ceiling = min(cap, base * 2 ** min(max(attempt, 0), _MAX_EXPONENT))
    return (rng or random).uniform(0.0, ceiling)


class Backoff:
    """Attempt counter for one retry loop: ``next()`` after a failure, ``reset()`` on success."""

    def __init__(self, base: float, cap: float, rng: random.Random | None = None) -> None:
        if base <= 0 or cap < base:
            raise ValueError("backoff needs 0 < base <= cap")
        self.base = base
        self.cap = cap
        self.attempt = 0
        self._rng = rng

    def next(self) -> float:
        """The wait before the next attempt; each call widens the window up to ``cap``."""
        delay = full_jitter(self.base, self.cap, self.attempt, self._rng)
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0
