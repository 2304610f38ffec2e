"""Polling a condition under a deadline: the one sanctioned way to wait in sync code.

Tests and launchers never sleep a guessed amount; they poll a predicate until it
holds or a monotonic deadline passes, and then fail with what they were waiting for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from haws.cluster.errors import Aborted, DeadlineExceeded

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T],
    timeout: float,
    interval: float = 0.02,
    *,
    what: str = "condition",
    abort: Callable[[], bool] | None = None,
) -> T:
    """Return the first truthy value of ``predicate()``; raise after ``timeout`` seconds.

    ``predicate`` is always tried at least once, even with ``timeout=0``. ``abort``
    is checked before every try and ends the wait early with ``Aborted``. An
    exception from ``predicate`` propagates: a predicate that can fail
    transiently (a refused connection) should catch that itself and return False.
    """
    deadline = time.monotonic() + timeout
    while True:
        if abort is not None and abort():
            raise Aborted(f"stopped waiting for {what}")
        value = predicate()
        if value:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded(f"{what} did not hold within {timeout:.1f} s")
        time.sleep(min(interval, remaining))
