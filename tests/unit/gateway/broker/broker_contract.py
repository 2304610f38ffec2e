"""The broker seams' contract (``haws.gateway.broker.seams``), run against the memory
broker (unit) and JetStream on a real nats-server (integration).

A subclass provides a ``broker`` fixture: a ``BrokerUnderTest`` whose ``drop``
applies retention to one topic and whose ``announce`` publishes a presence
change the way the presence service does.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from haws.common import presence_protocol as pp
from haws.common.messages import StoredMessage
from haws.gateway.broker.seams import History, LiveFeed, MessageStore
from haws.protocol.codec import decode_payload
from haws.protocol.errors import Internal
from tests.support.waiting import eventually


@dataclass
class BrokerUnderTest:
    store: MessageStore
    feed: LiveFeed
    history: History
    drop: Callable[[str, int], Awaitable[None]]
    """Retention: forget the topic's messages with ``seq <= through``."""
    announce: Callable[[pp.Change], Awaitable[None]]


class Inbox:
    """What a feed delivered, in order."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    async def __call__(self, item: Any) -> None:
        self.items.append(item)

    async def wait(self, count: int) -> list[Any]:
        await eventually(lambda: len(self.items) >= count, timeout=5, message=f"{count} items")
        return self.items


async def publish(broker: BrokerUnderTest, topic: str, data: Any, **kwargs: Any) -> int:
    seq, duplicate = await broker.store.publish(
        topic, data, mid=kwargs.get("mid"), sender=kwargs.get("sender"), request_id=1
    )
    assert not duplicate
    return seq


class BrokerContract:
    @pytest.fixture
    def topic(self) -> str:
        return f"c.{uuid.uuid4().hex[:8]}"

    async def test_seqs_grow_across_topics(self, broker: BrokerUnderTest, topic: str) -> None:
        first = await publish(broker, topic, 1)
        other = await publish(broker, topic + ".other", 2)
        second = await publish(broker, topic, 3)
        assert first < other < second
        assert await broker.history.last_seq(topic) == second
        assert await broker.history.last_seq(topic + ".none") == 0

    async def test_a_mid_stores_once_and_answers_the_original_seq(
        self, broker: BrokerUnderTest, topic: str
    ) -> None:
        mid = uuid.uuid4().hex
        seq, duplicate = await broker.store.publish(
            topic, "once", mid=mid, sender=None, request_id=1
        )
        again = await broker.store.publish(topic, "once", mid=mid, sender=None, request_id=2)
        assert duplicate is False
        assert again == (seq, True)
        assert await broker.history.last_seq(topic) == seq
        page = await broker.history.read(topic, 0)
        assert [m.seq for m in page.messages] == [seq]

    async def test_data_that_cannot_be_stored_is_refused_with_the_request_id(
        self, broker: BrokerUnderTest, topic: str
    ) -> None:
        with pytest.raises(Internal) as refused:
            await broker.store.publish(topic, {1, 2}, mid=None, sender=None, request_id=7)
        assert refused.value.request_id == 7
        assert await broker.history.last_seq(topic) == 0

    async def test_live_delivers_in_order_with_the_prev_chain(
        self, broker: BrokerUnderTest, topic: str
    ) -> None:
        before = await publish(broker, topic, "before")
        inbox = Inbox()
        feed = await broker.feed.live(topic, inbox)
        try:
            seqs = [await publish(broker, topic, n, sender="alice", mid=f"m{n}") for n in range(3)]
            got: list[StoredMessage] = await inbox.wait(3)
        finally:
            await feed.stop()
        assert [m.seq for m in got] == seqs
        assert [m.prev for m in got] == [before, *seqs[:2]]
        assert [decode_payload(m.body) for m in got] == [0, 1, 2]
        assert {(m.topic, m.sender) for m in got} == {(topic, "alice")}
        assert [m.mid for m in got] == ["m0", "m1", "m2"]

    async def test_a_stopped_feed_delivers_nothing_more(
        self, broker: BrokerUnderTest, topic: str
    ) -> None:
        stopped, still = Inbox(), Inbox()
        first = await broker.feed.live(topic, stopped)
        second = await broker.feed.live(topic, still)
        await publish(broker, topic, "both")
        await stopped.wait(1)
        await first.stop()
        await first.stop()  # idempotent
        await publish(broker, topic, "one")
        await still.wait(2)
        await second.stop()
        assert len(stopped.items) == 1

    async def test_history_reads_after_a_cursor_and_before_until_in_pages(
        self, broker: BrokerUnderTest, topic: str
    ) -> None:
        seqs = [await publish(broker, topic, n) for n in range(5)]
        page = await broker.history.read(topic, seqs[0])
        assert [m.seq for m in page.messages] == seqs[1:]
        assert [m.prev for m in page.messages] == seqs[:-1]
        assert (page.more, page.gap) == (False, None)
        assert [decode_payload(m.body) for m in page.messages] == [1, 2, 3, 4]

        first = await broker.history.read(topic, 0, 2)
        assert [m.seq for m in first.messages] == seqs[:2]
        assert first.more
        rest = await broker.history.read(topic, seqs[1], 2)
        assert [m.seq for m in rest.messages] == seqs[2:4]

        bounded = await broker.history.read(topic, seqs[0], until=seqs[3])
        assert [m.seq for m in bounded.messages] == seqs[1:3]
        assert not bounded.more

        assert (await broker.history.read(topic, seqs[-1])).messages == []

    async def test_what_retention_dropped_after_a_cursor_is_a_gap(
        self, broker: BrokerUnderTest, topic: str
    ) -> None:
        seqs = [await publish(broker, topic, n) for n in range(4)]
        await broker.drop(topic, seqs[1])
        page = await broker.history.read(topic, seqs[0])
        assert page.gap == (seqs[0] + 1, seqs[2] - 1)
        assert [m.seq for m in page.messages] == seqs[2:]
        # A cursor whose own message is still stored proves nothing was lost after it.
        assert (await broker.history.read(topic, seqs[2])).gap is None

    async def test_presence_changes_arrive_decoded(
        self, broker: BrokerUnderTest, topic: str
    ) -> None:
        inbox = Inbox()
        feed = await broker.feed.presence_changes(topic, inbox)
        try:
            change = pp.Change("join", topic, "s1", "alice", revision=3)
            await broker.announce(change)
            assert await inbox.wait(1) == [change]
        finally:
            await feed.stop()
