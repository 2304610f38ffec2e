"""Commands per second per connection: a token bucket, then a close.

Every frame after ``hello`` costs one token; the bucket holds ``burst`` and
refills at ``rate`` per second. A command that finds it empty is answered
``rate_limited`` and not executed. Strikes count refused commands up and
admitted ones down (never below 0): a client that sends more than twice its
rate for long is not listening, and at ``strikes`` it is closed 4002 (it may
reconnect and resume, at a sane pace). A client only a little over its rate is
held to the rate, not closed. ``rate`` 0 turns the limit off.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    __slots__ = ("_burst", "_clock", "_rate", "_stamp", "_tokens")

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate
        self._burst = max(1.0, burst)
        self._tokens = self._burst
        self._clock = clock
        self._stamp = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class CommandLimiter:
    __slots__ = ("_bucket", "_strikes", "limited", "max_strikes")

    def __init__(
        self,
        rate: float,
        burst: float,
        strikes: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bucket = TokenBucket(rate, burst, clock) if rate > 0 else None
        self.max_strikes = strikes
        self._strikes = 0
        self.limited = 0
        """Commands refused so far on this connection."""

    def admit(self) -> bool:
        """Take a token for one command; False when the client is over its rate."""
        if self._bucket is None or self._bucket.take():
            if self._strikes:
                self._strikes -= 1
            return True
        self._strikes += 1
        self.limited += 1
        return False

    @property
    def exhausted(self) -> bool:
        """``max_strikes`` more refused than admitted commands: close the connection."""
        return 0 < self.max_strikes <= self._strikes
