"""Catch-up reads the next history page while it delivers the current one, and
only ever delivers a page read ahead when it is the range it would have asked
for: exactly once, in order, whatever arrives live meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from haws.common.messages import StoredMessage
from haws.common.stream_reader import MAX_BATCH, HistoryPage
from haws.gateway.fanout.catch_up import catch_up
from haws.gateway.fanout.subscription import Subscription
from haws.protocol.codec import encode_payload
from tests.support.fake_connection import FakeConnection, msg_seqs

TOPIC = "t"


def stored(seq: int) -> StoredMessage:
    return StoredMessage(TOPIC, seq, seq - 1, 0, encode_payload(seq))


class Counting(FakeConnection):
    """Counts what it was sent; its client reads as fast as it is written."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0
        self.read: list[dict[str, Any]] = []
        self.before_send: Callable[[], None] = lambda: None

    def send(self, frame: bytes) -> bool:
        self.before_send()
        self.sent += 1
        queued = super().send(frame)
        if len(self.queue) >= 500:
            self.read += super().frames()
        return queued

    def frames(self) -> list[dict[str, Any]]:
        return self.read + super().frames()


class Paged:
    """Seqs 1..``last`` in pages of ``MAX_BATCH``; notes each read and how many
    frames the client had been sent when it was made."""

    def __init__(self, last: int, conn: Counting) -> None:
        self.last = last
        self.conn = conn
        self.reads: list[tuple[int, int | None, int]] = []

    async def read(
        self, topic: str, after: int, limit: int = MAX_BATCH, *, until: int | None = None
    ) -> HistoryPage:
        self.reads.append((after, until, self.conn.sent))
        end = self.last if until is None else min(self.last, until - 1)
        stop = min(end, after + limit)
        await asyncio.sleep(0)  # a request in flight
        return HistoryPage([stored(s) for s in range(after + 1, stop + 1)], more=stop < end)

    async def last_seq(self, topic: str) -> int:
        return self.last


async def test_the_next_page_is_requested_before_the_current_one_is_delivered() -> None:
    conn = Counting()
    stream = Paged(2500, conn)
    sub = Subscription(conn, TOPIC, live=False, presence=False, seq=0, floor=2500)
    pages = await catch_up(sub, 0, stream, room_timeout=5)

    assert pages == 3
    # Page 2 was asked for before any of page 1 went out, page 3 before any of page 2.
    assert stream.reads == [(0, None, 0), (1000, None, 0), (2000, None, 1000)]
    frames = conn.frames()
    assert msg_seqs(frames) == [(s, s - 1) for s in range(1, 2501)]
    assert frames[-1] == {"op": "recovered", "topic": TOPIC, "complete": True}
    assert sub.live


async def test_a_page_read_ahead_for_another_range_is_dropped_not_delivered() -> None:
    """A live message arrives while page 1 is delivered: the next read must stop
    where the buffered live messages begin, so the page read ahead to the end is
    not used, and every seq still arrives once."""
    conn = Counting()
    stream = Paged(2500, conn)
    sub = Subscription(conn, TOPIC, live=False, presence=False, seq=0, floor=2500)

    def live_message_arrives() -> None:
        if conn.sent == 10 and not sub.buffer:
            stream.last = 2502  # 2501 and 2502 are stored, 2502 is seen live first
            sub.buffer.append(stored(2502))

    conn.before_send = live_message_arrives
    await catch_up(sub, 0, stream, room_timeout=5)

    assert [(after, until) for after, until, _ in stream.reads] == [
        (0, None),
        (1000, None),  # read ahead, then dropped: the range became (1000, 2502)
        (1000, 2502),
        (2000, 2502),
    ]
    frames = conn.frames()
    assert msg_seqs(frames) == [(s, s - 1) for s in range(1, 2503)]
    assert frames[-1] == {"op": "recovered", "topic": TOPIC, "complete": True}
