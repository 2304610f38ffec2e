"""A topic's last messages as this node delivered them live, for catch-up.

After a node dies its clients resume elsewhere, hundreds at once, each a few
seconds behind on the same topics. Every one of them reading its few seconds
from the stream (through the replay service) cost more than the handshakes
themselves; the node that takes them over has usually fanned those very
messages out a moment ago. So each topic keeps a short window of them, with
their encoded frames, and a catch-up whose cursor falls inside the window is
served from memory: no stream read, no new encoding.

The window is contiguous by the ``prev`` chain: it holds every message of the
topic after ``covered_from``. A break in the chain (a range lost to retention)
empties it, so a catch-up across a gap still learns of the gap from the stream.
Bounded by count and by age, so a busy topic holds seconds and a quiet one
little.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from haws.gateway.fanout.frame_cache import FrameCache


@dataclass(frozen=True, slots=True)
class RecentLimits:
    max_messages: int = 1000
    """Messages kept per topic (0: no window, every catch-up reads the stream)."""
    max_age: float = 10.0
    """Seconds a message stays in the window after it was delivered."""


class RecentMessages:
    __slots__ = ("_clock", "_entries", "_limits")

    def __init__(self, limits: RecentLimits, clock: Callable[[], float]) -> None:
        self._limits = limits
        self._clock = clock
        self._entries: deque[tuple[float, FrameCache]] = deque()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def covered_from(self) -> int | None:
        """The window holds every message with a seq above this (None: empty)."""
        return self._entries[0][1].message.prev if self._entries else None

    @property
    def first_seq(self) -> int | None:
        return self._entries[0][1].message.seq if self._entries else None

    def add(self, cache: FrameCache) -> None:
        """Remember a delivered message; a break in the chain starts the window anew."""
        limits = self._limits
        if limits.max_messages <= 0:
            return
        entries = self._entries
        if entries and cache.message.prev != entries[-1][1].message.seq:
            entries.clear()
        now = self._clock()
        entries.append((now, cache))
        while len(entries) > limits.max_messages:
            entries.popleft()
        self._expire(now)

    def clear(self) -> None:
        self._entries.clear()

    def trim(self) -> None:
        """Drop what is older than ``max_age`` (quiet topics are trimmed by a timer)."""
        self._expire(self._clock())

    def _expire(self, now: float) -> None:
        entries = self._entries
        horizon = now - self._limits.max_age
        while entries and entries[0][0] < horizon:
            entries.popleft()

    def after(self, seq: int, limit: int) -> list[FrameCache] | None:
        """Up to ``limit`` messages after ``seq``, in order; ``None`` when the window
        does not reach back to ``seq`` (the caller reads the stream instead)."""
        self.trim()
        entries = self._entries
        if not entries or seq < entries[0][1].message.prev:
            return None
        if seq >= entries[-1][1].message.seq:
            return []
        # Seqs are increasing but not dense (other topics share the stream): bisect.
        lo, hi = 0, len(entries)
        while lo < hi:
            mid = (lo + hi) // 2
            if entries[mid][1].message.seq <= seq:
                lo = mid + 1
            else:
                hi = mid
        end = min(len(entries), lo + limit)
        return [entries[i][1] for i in range(lo, end)]
