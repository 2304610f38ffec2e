"""The recent-message window: a resume whose cursor it covers is served from
memory, a cursor it does not reach reads the stream (only up to the window),
and nothing the window holds can bridge a gap or outlive its limits."""

from __future__ import annotations

from haws.common.logs import get_logger
from haws.common.messages import StoredMessage
from haws.common.stream_reader import HistoryPage
from haws.gateway.broker.memory import MemoryBroker
from haws.gateway.fanout.catch_up import catch_up
from haws.gateway.fanout.frame_cache import FrameCache
from haws.gateway.fanout.recent_window import RecentLimits, RecentMessages
from haws.gateway.fanout.subscription import Subscription
from haws.gateway.fanout.topic import Topic
from haws.gateway.metrics import GatewayMetrics
from haws.protocol.codec import encode_payload
from tests.support.clock import ManualClock
from tests.support.fake_connection import FakeConnection, msg_seqs

TOPIC = "t"


def stored(seq: int, prev: int | None = None) -> StoredMessage:
    return StoredMessage(TOPIC, seq, seq - 2 if prev is None else prev, 0, encode_payload(seq))


def window(
    *seqs: int, limits: RecentLimits | None = None, clock: ManualClock | None = None
) -> RecentMessages:
    recent = RecentMessages(limits or RecentLimits(), clock or ManualClock(100.0))
    for seq in seqs:
        recent.add(FrameCache(stored(seq)))
    return recent


def seqs(caches: list[FrameCache] | None) -> list[int] | None:
    return None if caches is None else [c.message.seq for c in caches]


def test_serves_what_follows_a_cursor_it_covers() -> None:
    # Topic seqs 10, 12, 14, 16 (other topics' messages between them in the stream).
    recent = window(10, 12, 14, 16)
    assert recent.covered_from == 8
    assert seqs(recent.after(8, 100)) == [10, 12, 14, 16]
    assert seqs(recent.after(12, 100)) == [14, 16]
    assert seqs(recent.after(12, 1)) == [14]
    assert seqs(recent.after(16, 100)) == []
    assert recent.after(7, 100) is None  # older than the window: read the stream


def test_a_break_in_the_chain_starts_the_window_anew() -> None:
    recent = window(10, 12)
    recent.add(FrameCache(stored(20, prev=17)))  # 14..17 lost to retention
    assert seqs(recent.after(17, 100)) == [20]
    assert recent.after(12, 100) is None


def test_bounded_by_count_and_by_age() -> None:
    clock = ManualClock(100.0)
    recent = window(10, 12, 14, limits=RecentLimits(max_messages=2, max_age=5.0), clock=clock)
    assert seqs(recent.after(10, 100)) == [12, 14]
    assert recent.after(8, 100) is None
    clock.now += 3
    recent.add(FrameCache(stored(16)))
    clock.now += 2.5  # 12 and 14 are older than 5 s now, 16 is not
    assert seqs(recent.after(14, 100)) == [16]
    assert recent.after(12, 100) is None
    clock.now += 10
    recent.trim()
    assert len(recent) == 0


def test_zero_messages_means_no_window() -> None:
    recent = window(10, 12, limits=RecentLimits(max_messages=0))
    assert len(recent) == 0
    assert recent.after(10, 100) is None


class Stream:
    """The topic's seqs 2, 4, ... up to ``last``; records every read."""

    def __init__(self, last: int) -> None:
        self.last = last
        self.reads: list[tuple[int, int | None]] = []

    async def read(
        self, topic: str, after: int, limit: int = 1000, *, until: int | None = None
    ) -> HistoryPage:
        self.reads.append((after, until))
        end = self.last if until is None else min(self.last, until - 1)
        first = after + 1 if (after + 1) % 2 == 0 else after + 2
        return HistoryPage([stored(s, prev=max(after, s - 2)) for s in range(first, end + 1, 2)])

    async def last_seq(self, topic: str) -> int:
        return self.last


async def test_a_resume_inside_the_window_reads_nothing_from_the_stream() -> None:
    stream = Stream(last=16)
    conn = FakeConnection()
    sub = Subscription(conn, TOPIC, live=False, presence=False, seq=10, floor=16)
    pages = await catch_up(sub, 10, stream, room_timeout=5, recent=window(10, 12, 14, 16))

    frames = conn.frames()
    assert stream.reads == []
    assert pages == 0
    assert msg_seqs(frames) == [(12, 10), (14, 12), (16, 14)]
    assert frames[-1] == {"op": "recovered", "topic": TOPIC, "complete": True}
    assert sub.live


async def test_a_resume_behind_the_window_reads_only_up_to_it() -> None:
    stream = Stream(last=16)
    conn = FakeConnection()
    sub = Subscription(conn, TOPIC, live=False, presence=False, seq=4, floor=16)
    await catch_up(sub, 4, stream, room_timeout=5, recent=window(12, 14, 16))

    frames = conn.frames()
    assert stream.reads == [(4, 12)]  # the same request for every resume at this cursor
    assert msg_seqs(frames) == [(6, 4), (8, 6), (10, 8), (12, 10), (14, 12), (16, 14)]
    assert frames[-1] == {"op": "recovered", "topic": TOPIC, "complete": True}


async def test_a_cursor_between_two_seqs_is_the_first_message_prev() -> None:
    conn = FakeConnection()
    sub = Subscription(conn, TOPIC, live=False, presence=False, seq=11, floor=16)
    await catch_up(sub, 11, Stream(16), room_timeout=5, recent=window(10, 12, 14, 16))
    assert msg_seqs(conn.frames()) == [(12, 11), (14, 12), (16, 14)]


class LostStream:
    """Retention dropped everything before ``first``."""

    def __init__(self, first: int, last: int) -> None:
        self.first = first
        self.last = last

    async def read(
        self, topic: str, after: int, limit: int = 1000, *, until: int | None = None
    ) -> HistoryPage:
        return HistoryPage([], gap=(after + 1, self.first - 1))

    async def last_seq(self, topic: str) -> int:
        return self.last


async def test_a_topic_windows_what_it_fans_out_and_never_bridges_a_gap() -> None:
    topic = Topic(
        TOPIC, MemoryBroker(), LostStream(first=20, last=8), GatewayMetrics(), get_logger("test")
    )
    await topic.start()
    assert topic.last_seq == 8
    for seq in (10, 12):
        await topic.advance(stored(seq))
    assert seqs(topic.recent.after(8, 100)) == [10, 12]

    await topic.advance(stored(20, prev=18))  # 14..18 are gone from the stream
    assert topic.recent.after(12, 100) is None  # a resume from 12 must learn of the gap
    assert seqs(topic.recent.after(19, 100)) == [20]
    await topic.stop()
