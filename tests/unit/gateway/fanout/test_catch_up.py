"""Catch-up never goes live past a message it did not deliver, even when its
history page is stale (a replay read shared with an earlier identical request,
or a lagging stream replica): it reads again instead of announcing a false gap
or, worse, skipping a message silently."""

from __future__ import annotations

import asyncio
from typing import Any

from haws.common.coalescer import Coalescer
from haws.common.logs import get_logger
from haws.common.messages import StoredMessage
from haws.common.stream_reader import HistoryPage
from haws.gateway.broker.memory import MemoryBroker
from haws.gateway.fanout.catch_up import catch_up
from haws.gateway.fanout.subscription import Subscription
from haws.gateway.fanout.topic import Topic
from haws.gateway.metrics import GatewayMetrics
from haws.protocol.codec import encode_payload
from tests.support.fake_connection import FakeConnection, msg_seqs

TOPIC = "t"


def stored(seq: int) -> StoredMessage:
    return StoredMessage(TOPIC, seq, seq - 1, 0, encode_payload(seq))


class SlowStream:
    """Every seq of the topic up to ``last``; a read sees ``last`` as of its start."""

    def __init__(self, last: int) -> None:
        self.last = last

    async def read(self, after: int, until: int | None) -> HistoryPage:
        end = self.last if until is None else min(self.last, until - 1)
        messages = [stored(s) for s in range(after + 1, end + 1)]
        await asyncio.sleep(0.02)  # in flight: later requests may share it
        return HistoryPage(messages)


class SharedReads:
    """What the replay service does: identical concurrent requests share one read."""

    def __init__(self, stream: SlowStream) -> None:
        self.stream = stream
        self.coalescer: Coalescer[Any, HistoryPage] = Coalescer()

    async def read(
        self, topic: str, after: int, limit: int = 1000, *, until: int | None = None
    ) -> HistoryPage:
        page, _ = await self.coalescer.run(
            (topic, after, limit, until), lambda: self.stream.read(after, until)
        )
        return page

    async def last_seq(self, topic: str) -> int:
        return self.stream.last


async def test_a_stale_shared_read_does_not_skip_a_message_seen_live() -> None:
    stream = SlowStream(last=262)
    history = SharedReads(stream)
    topic = Topic(TOPIC, MemoryBroker(), history, GatewayMetrics(), get_logger("test"))
    await topic.start()  # its last seq: 262

    def register(conn: FakeConnection) -> Subscription:
        sub = Subscription(conn, TOPIC, live=False, presence=False, seq=254, floor=topic.last_seq)
        topic.subscribers[conn] = sub
        return sub

    first = asyncio.create_task(catch_up(register(FakeConnection()), 254, history, room_timeout=5))
    await asyncio.sleep(0.005)  # the first resume's read is in flight
    stream.last = 263
    await topic.advance(stored(263))  # stored and fanned out live
    late = FakeConnection()
    # Registered after 263 went by; its first read joins the one that began before 263.
    await catch_up(register(late), 254, history, room_timeout=5)
    await first
    stream.last = 264
    await topic.advance(stored(264))
    await topic.stop()

    frames = late.frames()
    assert msg_seqs(frames) == [(s, s - 1) for s in range(255, 265)]
    assert {"op": "recovered", "topic": TOPIC, "complete": True} in frames


async def test_a_stale_read_short_of_the_buffer_is_not_a_retention_gap() -> None:
    stream = SlowStream(last=310)
    history = SharedReads(stream)
    earlier = Subscription(FakeConnection(), TOPIC, live=False, presence=False, seq=310, floor=310)
    first = asyncio.create_task(catch_up(earlier, 310, history, room_timeout=5))
    await asyncio.sleep(0.005)
    stream.last = 311
    earlier.hold(stored(311))
    conn = FakeConnection()
    late = Subscription(conn, TOPIC, live=False, presence=False, seq=310, floor=311)
    second = asyncio.create_task(catch_up(late, 310, history, room_timeout=5))
    await asyncio.sleep(0.005)
    stream.last = 312
    for sub in (earlier, late):
        sub.hold(stored(312))
    await asyncio.gather(first, second)

    frames = conn.frames()
    assert msg_seqs(frames) == [(311, 310), (312, 311)]
    assert [f for f in frames if f["op"] == "recovered"] == [
        {"op": "recovered", "topic": TOPIC, "complete": True}
    ]
