"""What the session keeper writes: new subscriptions at the next flush, a moved
cursor only every ``cursor_interval``, the final record of a closed connection
at once, and an unchanged record again before the store's TTL would expire it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from haws.common.session_record import SessionRecord, TopicState
from haws.gateway.broker.memory import MemoryBroker
from haws.gateway.delivery.connection import Connection
from haws.gateway.fanout.hub import Hub
from haws.gateway.sessions.keeper import SessionKeeper
from haws.gateway.sessions.store import MemorySessionStore
from tests.support.clock import ManualClock
from tests.support.fake_socket import socketless_connection
from tests.support.keeper_hub import keeper_hub
from tests.support.waiting import eventually


class CountingStore(MemorySessionStore):
    def __init__(self) -> None:
        super().__init__()
        self.puts = 0

    async def put(self, session: str, record: SessionRecord, *, last: int | None = None) -> int:
        self.puts += 1
        return await super().put(session, record, last=last)


@dataclass
class Node:
    """A hub on the memory broker with one connection ``s1``, subscribed live to
    ``a`` when topic ``a``'s last seq is 10."""

    keeper: SessionKeeper
    store: CountingStore
    hub: Hub
    broker: MemoryBroker
    conn: Connection
    clock: ManualClock

    async def publish(self, topic: str, count: int) -> None:
        """``count`` messages stored and delivered; the connection's queue written out."""
        for _ in range(count):
            seq, _ = await self.broker.publish(topic, 0, mid=None, sender=None, request_id=0)
        await eventually(
            lambda: (
                all(t.last_seq == seq for t in self.hub.topics.values() if t.name == topic)
                and len(self.conn.queue) == 0
            ),
            message="delivered",
        )

    async def subscribe(self, topic: str) -> None:
        await self.hub.subscribe(self.conn, topic, since=None, presence=False, room_timeout=5)


@pytest.fixture
async def node() -> AsyncIterator[Node]:
    store = CountingStore()
    parts = keeper_hub(store)
    keeper, hub, broker, clock = parts.keeper, parts.hub, parts.broker, parts.clock
    conn, _, _ = socketless_connection(session="s1")
    hub.add(conn)
    world = Node(keeper, store, hub, broker, conn, clock)
    for _ in range(10):  # topic a's last seq: 10
        await broker.publish("a", 0, mid=None, sender=None, request_id=0)
    await world.subscribe("a")
    try:
        yield world
    finally:
        await conn.stop()
        hub.discard(conn)
        await hub.close()
        await broker.close()


def cursor(store: MemorySessionStore, topic: str) -> int:
    return store.records["s1"].subs[topic].seq


async def test_a_moved_cursor_waits_for_the_cursor_interval(node: Node) -> None:
    keeper, store, clock = node.keeper, node.store, node.clock
    await keeper.flush()
    assert cursor(store, "a") == 10
    for _ in range(4):
        clock.now += 1.0
        await node.publish("a", 1)
        await keeper.flush()
    assert store.puts == 1
    assert cursor(store, "a") == 10
    clock.now += 1.0
    await keeper.flush()
    assert store.puts == 2
    assert cursor(store, "a") == 14


async def test_a_new_subscription_is_written_at_the_next_flush(node: Node) -> None:
    keeper, store, clock = node.keeper, node.store, node.clock
    await keeper.flush()
    clock.now += 1.0
    for _ in range(3):  # topic b's last seq: 13
        await node.broker.publish("b", 0, mid=None, sender=None, request_id=0)
    await node.subscribe("b")
    await keeper.flush()
    assert store.records["s1"].subs == {"a": TopicState(10), "b": TopicState(13)}


async def test_a_closed_connection_writes_its_last_cursor_at_once(node: Node) -> None:
    keeper, store, clock = node.keeper, node.store, node.clock
    await keeper.flush()
    clock.now += 0.5
    await node.publish("a", 2)
    await keeper.closed(node.conn)
    assert cursor(store, "a") == 12


async def test_an_unchanged_record_is_refreshed_before_the_ttl(node: Node) -> None:
    keeper, store, clock = node.keeper, node.store, node.clock
    await keeper.flush()
    clock.now += 49.0
    await keeper.flush()
    assert store.puts == 1
    clock.now += 1.0  # half the TTL since the last write
    await keeper.flush()
    assert store.puts == 2
