"""A fenced connection (presence epoch 5 here) writes its record only on the revision
it last saw. A node that has not heard of a resume elsewhere yet (the takeover is
late) then neither rolls the newer owner's record back nor, as the older owner,
has its own late write stand; and a close needs no read. An unfenced connection
(no presence service) writes as the last writer, as it always did."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from haws.common.session_record import SessionRecord, TopicState
from haws.gateway.delivery.connection import Connection
from haws.gateway.sessions.keeper import newer_owner
from haws.gateway.sessions.store import MemorySessionStore, Stored
from tests.support.fake_socket import socketless_connection
from tests.support.keeper_hub import NODE, KeeperHub, keeper_hub

EPOCH = 5
NEWER = SessionRecord(subs={"a": TopicState(3)}, node="n2", epoch=EPOCH + 1)
"""The record a resume on another node wrote (its claim came after this one's)."""
OLDER = dataclasses.replace(NEWER, epoch=EPOCH - 1)
"""A late write of the session's previous owner on another node."""


class CountingStore(MemorySessionStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def read(self, session: str) -> Stored:
        self.reads += 1
        return await super().read(session)


@dataclass
class Node:
    parts: KeeperHub
    store: CountingStore
    conn: Connection

    async def subscribe(self, topic: str) -> None:
        """A change the next round writes (a round every second of the manual clock)."""
        self.parts.clock.now += 1.0
        await self.parts.hub.subscribe(self.conn, topic, since=None, presence=False, room_timeout=5)

    def record(self) -> SessionRecord:
        return self.store.records[self.conn.session]


async def node_with(epoch: int, revision: int | None) -> Node:
    store = CountingStore()
    parts = keeper_hub(store)
    conn, _, _ = socketless_connection(session="s1")
    conn.claimed(epoch)
    parts.hub.add(conn)
    parts.keeper.opened(conn, revision)
    world = Node(parts, store, conn)
    await world.subscribe("a")
    return world


@pytest.fixture
async def node() -> AsyncIterator[Node]:
    """Session ``s1`` minted on node ``n1`` (revision 0), claimed at epoch 5, on ``a``."""
    world = await node_with(EPOCH, 0)
    try:
        yield world
    finally:
        await world.conn.stop()
        world.parts.hub.discard(world.conn)
        await world.parts.close()


async def test_a_round_never_overwrites_a_newer_owner_s_record(node: Node) -> None:
    keeper = node.parts.keeper
    await keeper.flush()
    assert node.record().node == NODE
    await node.store.put("s1", NEWER)  # the client resumed on n2; n1 has not heard
    await node.subscribe("b")
    await keeper.flush()
    assert node.record() == NEWER
    await node.subscribe("c")
    await keeper.flush()  # no later round tries again
    assert node.store.reads == 1
    await keeper.closed(node.conn)  # nor does the close
    assert node.record() == NEWER


async def test_an_older_owner_s_late_write_is_written_over(node: Node) -> None:
    keeper = node.parts.keeper
    await keeper.flush()
    await node.store.put("s1", OLDER)  # the previous owner's final write, landing late
    await node.subscribe("b")
    await keeper.flush()
    assert node.record().node == NODE
    assert set(node.record().subs) == {"a", "b"}
    assert node.record().epoch == EPOCH


async def test_a_close_writes_its_final_record_without_reading_it_first(node: Node) -> None:
    await node.parts.keeper.flush()
    await node.subscribe("b")
    await node.parts.keeper.closed(node.conn)
    assert set(node.record().subs) == {"a", "b"}
    assert node.store.reads == 0


async def test_a_write_behind_its_own_node_s_newer_revision_still_lands(node: Node) -> None:
    """An ack lost to a timeout leaves the keeper a revision behind its own write."""
    await node.parts.keeper.flush()
    await node.store.put("s1", node.record())  # n1's write it did not hear back
    await node.subscribe("b")
    await node.parts.keeper.flush()
    assert set(node.record().subs) == {"a", "b"}
    assert node.store.reads == 1


async def test_a_minted_session_resumed_elsewhere_before_its_first_write_is_left_alone(
    node: Node,
) -> None:
    await node.store.put("s1", NEWER)
    await node.parts.keeper.flush()
    assert node.record() == NEWER


@pytest.mark.parametrize(("stored", "kept"), [(NEWER, True), (OLDER, False)])
async def test_an_unknown_revision_is_read_before_the_first_write(
    stored: SessionRecord, kept: bool
) -> None:
    """A resume whose hello read failed (KV away): nothing is assumed about the record."""
    world = await node_with(EPOCH, None)
    try:
        await world.store.put("s1", stored)
        await world.parts.keeper.flush()
        assert world.store.reads == 1
        assert (world.record() == stored) is kept
    finally:
        await world.conn.stop()
        world.parts.hub.discard(world.conn)
        await world.parts.close()


async def test_an_unfenced_connection_writes_as_the_last_writer_and_its_close_reads() -> None:
    world = await node_with(0, 0)
    try:
        keeper = world.parts.keeper
        await world.store.put("s1", NEWER)
        await keeper.flush()  # no epoch to order by: the round writes, as ever
        assert world.record().node == NODE
        await world.store.put("s1", NEWER)
        await world.subscribe("b")
        await keeper.closed(world.conn)  # the close reads, and leaves n2's record
        assert world.record() == NEWER
    finally:
        await world.conn.stop()
        world.parts.hub.discard(world.conn)
        await world.parts.close()


def test_a_newer_owner_is_another_node_at_an_epoch_at_least_this_one() -> None:
    assert newer_owner(NEWER, NODE, EPOCH)
    assert not newer_owner(OLDER, NODE, EPOCH)
    assert newer_owner(dataclasses.replace(NEWER, epoch=EPOCH), NODE, EPOCH)  # a tie
    assert not newer_owner(dataclasses.replace(NEWER, node=NODE), NODE, EPOCH)  # this node's
    assert not newer_owner(None, NODE, EPOCH)
