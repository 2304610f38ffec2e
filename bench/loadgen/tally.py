"""Bookkeeping of what a subscriber received, counted at the wire.

A subscriber's ``SeqTally`` sees each ``msg``'s ``seq`` and ``prev`` in arrival
order. Protocol v1 promises strictly increasing ``seq`` per topic on one
connection with ``prev`` naming the previous one, so a ``seq`` at or below the
last one is a duplicate and a ``prev`` that is not the last one a break in the
chain. What was lost is computed at the end against the publisher's acked
seqs: every acked message from the subscriber's start on should have arrived.
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections.abc import Iterable, Sequence


class SeqTally:
    __slots__ = ("breaks", "count", "dups", "first", "last")

    def __init__(self) -> None:
        self.count = 0
        """Distinct messages received (duplicates excluded)."""
        self.dups = 0
        self.breaks = 0
        """Messages whose ``prev`` was not the last seq received (a gap before them)."""
        self.first = 0
        self.last = 0

    def add(self, seq: int, prev: int) -> bool:
        """Record one message; False when it is a duplicate (or out of order)."""
        last = self.last
        if seq <= last:
            self.dups += 1
            return False
        if last and prev != last:
            self.breaks += 1
        if not self.first:
            self.first = seq
        self.last = seq
        self.count += 1
        return True


def expected_since(published: Sequence[int], start: int) -> int:
    """How many of the sorted acked seqs ``published`` are at or after ``start``."""
    return len(published) - bisect.bisect_left(published, start)


def lost(tally: SeqTally, published: Sequence[int], start: int) -> int:
    """Acked messages at or after ``start`` this subscriber never received.

    ``start`` is the first seq it was owed (the first one published after it
    subscribed). Duplicates are not counted as received twice.
    """
    return max(0, expected_since(published, start) - tally.count)


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of an already sorted sequence."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return float(ordered[min(rank, len(ordered)) - 1])


def summarize(samples: Iterable[float], qs: Sequence[float] = (50, 99, 99.9)) -> dict[str, float]:
    """``{"p50": .., "p99": .., "p99.9": .., "max": .., "n": ..}`` of ``samples``."""
    ordered = sorted(samples)
    out = {f"p{q:g}": percentile(ordered, q) for q in qs}
    out["max"] = float(ordered[-1]) if ordered else math.nan
    out["n"] = float(len(ordered))
    return out


class Latencies:
    """Publish-to-delivery delays in ns, appended from the hot path."""

    __slots__ = ("samples",)

    def __init__(self) -> None:
        self.samples = array("q")

    def summary_ms(self) -> dict[str, float]:
        stats = summarize(self.samples)
        return {k: (v if k == "n" else v / 1e6) for k, v in stats.items()}
