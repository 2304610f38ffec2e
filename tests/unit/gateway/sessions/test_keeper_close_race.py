"""A round's put of a connection never lands after the final record its close
wrote: not one already in flight (the close waits for it), not one still
queued behind the round's other puts (the round skips a closing or gone
connection). Otherwise a late put rolls back the record a resume on another
node wrote since, and the client resumes there from stale cursors and topics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from haws.common.session_record import SessionRecord, TopicState
from haws.common.tasks import stop_task
from haws.gateway.broker.memory import MemoryBroker
from haws.gateway.delivery.connection import Connection
from haws.gateway.fanout.hub import Hub
from haws.gateway.sessions.keeper import SessionKeeper
from haws.gateway.sessions.store import MemorySessionStore
from tests.support.clock import ManualClock
from tests.support.fake_socket import socketless_connection
from tests.support.held_store import HeldStore
from tests.support.keeper_hub import keeper_hub
from tests.support.waiting import eventually


@dataclass
class Node:
    keeper: SessionKeeper
    store: HeldStore
    records: MemorySessionStore
    hub: Hub
    broker: MemoryBroker
    clock: ManualClock
    conns: dict[str, Connection] = field(default_factory=dict)

    async def publish(self, count: int) -> None:
        """``count`` messages on topic ``a``, delivered and written out."""
        for _ in range(count):
            seq, _ = await self.broker.publish("a", 0, mid=None, sender=None, request_id=0)
        await eventually(
            lambda: (
                self.hub.topics["a"].last_seq == seq
                and all(len(c.queue) == 0 for c in self.conns.values())
            ),
            message="delivered",
        )

    async def close(self, session: str) -> None:
        """As the endpoint ends a connection: stopped, final record, then off the hub."""
        conn = self.conns[session]
        await conn.stop()
        await self.keeper.closed(conn)
        self.hub.discard(conn)


@pytest.fixture
async def node() -> AsyncIterator[Node]:
    """Connections ``s0`` and ``s1`` live on ``a`` (last seq 10), one put at a time."""
    records = MemorySessionStore()
    store = HeldStore(records)
    parts = keeper_hub(store, concurrency=1)
    keeper, hub, broker, clock = parts.keeper, parts.hub, parts.broker, parts.clock
    world = Node(keeper, store, records, hub, broker, clock)
    for _ in range(10):
        await broker.publish("a", 0, mid=None, sender=None, request_id=0)
    for session in ("s0", "s1"):
        conn, _, _ = socketless_connection(session=session)
        hub.add(conn)
        await hub.subscribe(conn, "a", since=None, presence=False, room_timeout=5)
        world.conns[session] = conn
    try:
        yield world
    finally:
        for conn in world.conns.values():
            await conn.stop()
            hub.discard(conn)
        await hub.close()
        await broker.close()


async def test_a_put_in_flight_lands_before_the_final_record(node: Node) -> None:
    store, keeper = node.store, node.keeper
    await keeper.flush()  # both written at seq 10
    node.clock.now += 5.0
    await node.publish(2)  # seq 12: both due
    store.hold()
    round_ = asyncio.create_task(keeper.flush())
    try:
        await eventually(lambda: store.held is not None, message="a round put in flight")
        held = store.held
        assert held is not None
        await node.publish(2)  # seq 14: what the socket was handed before it closed
        closing = asyncio.create_task(node.close(held))
        done, _ = await asyncio.wait({closing}, timeout=0.2)
        assert not done, "the final record was written while a round's put was in flight"
        store.release()
        await closing
        await round_
    finally:
        await stop_task(round_)
    assert [r.subs["a"].seq for s, r in store.landed if s == held][-1] == 14
    assert node.records.records[held].subs["a"] == TopicState(14)


async def test_a_queued_put_of_a_closed_connection_does_not_overwrite_a_resume_elsewhere(
    node: Node,
) -> None:
    store, keeper = node.store, node.keeper
    await keeper.flush()
    node.clock.now += 5.0
    await node.publish(2)
    store.hold()  # the round's first put waits; the other connection's is queued behind it
    round_ = asyncio.create_task(keeper.flush())
    try:
        await eventually(lambda: store.held is not None, message="a round put in flight")
        queued = "s1" if store.held == "s0" else "s0"
        await node.close(queued)
        assert node.records.records[queued].subs["a"] == TopicState(12)  # its final record
        elsewhere = SessionRecord(subs={"a": TopicState(12)}, node="n2")
        await store.put(queued, elsewhere)  # the client resumed on node n2
        store.release()
        await round_
    finally:
        await stop_task(round_)
    assert node.records.records[queued] == elsewhere
    assert [s for s, _ in store.landed].count(queued) == 3  # first, final, n2's: no late one


async def test_a_round_put_for_a_connection_closing_is_skipped(node: Node) -> None:
    """The close has begun (its final write waits on the store) when the round reaches it."""
    store, keeper = node.store, node.keeper
    await keeper.flush()
    node.clock.now += 5.0
    await node.publish(2)
    conn = node.conns["s0"]
    await conn.stop()
    store.hold()  # the close's own final put waits: the connection is closing, not gone
    closing = asyncio.create_task(keeper.closed(conn))
    try:
        await eventually(lambda: store.held == "s0", message="final put in flight")
        await keeper.flush()  # s1 is written, s0 is not
        store.release()
        await closing
    finally:
        await stop_task(closing)
    node.hub.discard(conn)
    assert [s for s, _ in store.landed[2:]] == ["s1", "s0"]  # after the first round's two
    assert node.records.records["s0"].subs["a"] == TopicState(12)


async def test_a_queued_put_of_a_closed_connection_does_not_empty_its_record(node: Node) -> None:
    """Off the hub a connection has no subscriptions left: a round put of it then
    would store a record with no topics, and a resume on this very node (it reads
    the record) would restore nothing."""
    store, keeper = node.store, node.keeper
    await keeper.flush()
    node.clock.now += 5.0
    await node.publish(2)
    store.hold()
    round_ = asyncio.create_task(keeper.flush())
    try:
        await eventually(lambda: store.held is not None, message="a round put in flight")
        queued = "s1" if store.held == "s0" else "s0"
        await node.close(queued)
        store.release()
        await round_
    finally:
        await stop_task(round_)
    assert node.records.records[queued].subs == {"a": TopicState(12)}


async def test_a_quick_reconnect_here_reads_the_final_record_its_close_is_writing(
    node: Node,
) -> None:
    """The new hello's read waits for the final write of the previous connection of
    its session on this node: it restores the last cursor, not the one before it."""
    store, keeper = node.store, node.keeper
    await keeper.flush()  # s0 written at seq 10
    node.clock.now += 1.0
    await node.publish(2)  # seq 12, handed to the socket, not yet in the record
    store.hold()
    closing = asyncio.create_task(node.close("s0"))
    reading: asyncio.Task[object] | None = None
    try:
        await eventually(lambda: store.held == "s0", message="the final put held")
        reading = asyncio.create_task(keeper.read("s0"))
        for _ in range(20):  # far more loop steps than a memory read takes
            await asyncio.sleep(0)
        assert not reading.done(), "the hello read the record before its final write"
        store.release()
        await closing
        stored = await reading
    finally:
        await stop_task(closing)
        await stop_task(reading)
    assert stored is not None
    assert stored.record is not None
    assert stored.record.subs["a"] == TopicState(12)
    assert stored.revision == node.records.revisions["s0"]
