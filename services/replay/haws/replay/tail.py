"""The stream's recent messages per topic, held as encoded reply rows.

A replay page read from the stream costs every message a direct-get reply, a parse
and an encode, each in Python: about 8 us of server CPU per replayed message, so
one core replays ~80k msg/s at most. The tail pays that once per message, when it
is stored (``tail_feed`` follows the stream's republished subjects), and a page
out of it is a slice of already-encoded rows: Centrifugo's history cache and
socket.io's recovery buffer do the same.

A topic's tail is a chain: every row's ``prev`` is the seq before it, so the tail
holds *every* message of the topic from ``base`` (exclusive) to ``last``. A
message whose ``prev`` is not ``last`` (core NATS dropped one, the feed was
reconnected, a leader change lost a republish) restarts the chain at it. A page
is served only from a range the chain covers; everything else is read from the
stream as before. Whether the stream holds more past ``last`` the tail cannot
know, so a page that ends at the tail's end is confirmed against the stream
(``ReplayService``).

Bounded three ways: messages per topic, bytes in all, and age (the stream's own
``max_age``, so the tail never serves what retention has removed from the stream).
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from dataclasses import dataclass

ROW_OVERHEAD = 120
"""Bytes a row costs beyond its encoding: the bytes object, two ints, three list slots."""


@dataclass(frozen=True, slots=True)
class TailLimits:
    messages: int = 100_000
    """Per topic; at most the stream's ``max_msgs_per_subject``."""
    bytes: int = 64 << 20
    """In all; 0 turns the tail off."""
    max_age_ms: int = 86_400_000


@dataclass(frozen=True, slots=True)
class TailRead:
    """Rows after a cursor. ``at_end``: they end at the tail's last message, and
    nothing here says whether the stream holds more. ``first_prev``: the first row's
    ``prev`` as stored, which is not the cursor when the cursor lies between two of
    the topic's seqs."""

    rows: list[bytes]
    more: bool
    last: int
    at_end: bool
    first_prev: int


class TopicTail:
    """One topic's chain: ``seqs[i]``, ``stamps[i]`` (ms) and ``rows[i]`` from ``head``."""

    __slots__ = ("base", "bytes", "head", "rows", "seqs", "stamps")

    def __init__(self, prev: int) -> None:
        self.base = prev
        self.head = 0
        self.seqs: list[int] = []
        self.stamps: list[int] = []
        self.rows: list[bytes] = []
        self.bytes = 0

    def __len__(self) -> int:
        return len(self.seqs) - self.head

    @property
    def last(self) -> int:
        return self.seqs[-1] if len(self) else self.base

    def append(self, seq: int, ts: int, row: bytes) -> None:
        self.seqs.append(seq)
        self.stamps.append(ts)
        self.rows.append(row)
        self.bytes += len(row) + ROW_OVERHEAD

    def drop_front(self, count: int) -> int:
        """Drop the oldest ``count`` rows; the bytes freed."""
        count = min(count, len(self))
        if count <= 0:
            return 0
        end = self.head + count
        freed = sum(len(row) for row in self.rows[self.head : end]) + ROW_OVERHEAD * count
        self.base = self.seqs[end - 1]
        self.head = end
        self.bytes -= freed
        if self.head > len(self.seqs) // 2:  # compact: the lists never grow past twice
            del self.seqs[: self.head], self.stamps[: self.head], self.rows[: self.head]
            self.head = 0
        return freed

    def expire(self, horizon_ms: int) -> int:
        """Drop rows stored before ``horizon_ms``; the bytes freed."""
        cut = bisect.bisect_left(self.stamps, horizon_ms, lo=self.head)
        return self.drop_front(cut - self.head)

    def read(self, after: int, limit: int, until: int | None, max_bytes: int) -> TailRead | None:
        """Rows with ``after < seq`` (``< until``), or None if the chain does not reach
        back to ``after``: the stream must answer that."""
        if after < self.base:
            return None
        start = bisect.bisect_right(self.seqs, after, lo=self.head)
        stop = len(self.seqs)
        if until is not None:
            stop = bisect.bisect_left(self.seqs, until, lo=start)
        more = stop - start > limit
        if more:
            stop = start + limit
        rows = self.rows[start:stop]
        size = 0
        for i, row in enumerate(rows):
            size += len(row)
            if size > max_bytes and i > 0:
                rows, stop, more = rows[:i], start + i, True
                break
        last = self.seqs[stop - 1] if stop > start else after
        first_prev = self.seqs[start - 1] if start > self.head else self.base
        # A row at or past ``until`` proves the range complete; the tail's end does not.
        at_end = not more and stop == len(self.seqs)
        return TailRead(rows, more, last, at_end, first_prev)


class Tails:
    """Every topic's tail, the least recently written evicted first when over ``bytes``."""

    def __init__(self, limits: TailLimits) -> None:
        self.limits = limits
        self._topics: OrderedDict[str, TopicTail] = OrderedDict()
        self.bytes = 0

    @property
    def enabled(self) -> bool:
        return self.limits.bytes > 0 and self.limits.messages > 0

    def __len__(self) -> int:
        return len(self._topics)

    def messages(self) -> int:
        return sum(len(tail) for tail in self._topics.values())

    def append(self, topic: str, seq: int, prev: int, ts: int, row: bytes) -> bool:
        """Add a stored message; True if it restarted its topic's chain. Runs once per
        stored message of the whole cluster, so it reads each field once."""
        restarted = False
        tail = self._topics.get(topic)
        if tail is None:
            tail = self._topics[topic] = TopicTail(prev)
        else:
            self._topics.move_to_end(topic)
            last = tail.last
            if seq <= last:
                return False  # a republish seen twice
            if prev != last:
                restarted = True
                self.bytes -= tail.bytes
                tail = self._topics[topic] = TopicTail(prev)
        tail.append(seq, ts, row)
        self.bytes += len(row) + ROW_OVERHEAD
        over = len(tail.seqs) - tail.head - self.limits.messages
        if over > 0:
            self.bytes -= tail.drop_front(over)
        while self.bytes > self.limits.bytes and self._topics:
            oldest, victim = next(iter(self._topics.items()))
            if victim is tail and len(self._topics) == 1:
                self.bytes -= tail.drop_front(max(1, len(tail) // 10))
                if not len(tail):
                    break
            else:
                self.bytes -= victim.bytes
                del self._topics[oldest]
        return restarted

    def read(
        self, topic: str, after: int, limit: int, until: int | None, max_bytes: int, now_ms: int
    ) -> TailRead | None:
        tail = self._topics.get(topic)
        if tail is None:
            return None
        self.bytes -= tail.expire(now_ms - self.limits.max_age_ms)
        return tail.read(after, limit, until, max_bytes)

    def forget(self, topic: str) -> None:
        tail = self._topics.pop(topic, None)
        if tail is not None:
            self.bytes -= tail.bytes
