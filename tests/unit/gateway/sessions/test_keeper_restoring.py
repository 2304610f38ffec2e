"""A resumed connection's record is not rewritten while its subscriptions are being
restored: written half-restored, it would drop the topics not restored yet, and a
resume elsewhere after this node died would restore nothing of them."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from haws.common.session_record import SessionRecord, TopicState
from haws.gateway.delivery.connection import Connection
from haws.gateway.fanout.hub import Hub
from haws.gateway.sessions.keeper import SessionKeeper
from haws.gateway.sessions.store import MemorySessionStore
from tests.support.fake_socket import socketless_connection
from tests.support.keeper_hub import keeper_hub

WHOLE = SessionRecord(
    subs={"a": TopicState(3), "b": TopicState(5, presence=True)}, node="n0", user=None
)


@dataclass
class Resume:
    keeper: SessionKeeper
    store: MemorySessionStore
    hub: Hub
    conn: Connection


@pytest.fixture
async def resume() -> AsyncIterator[Resume]:
    """A connection resuming session ``s`` (record: topics a and b), with only ``a``
    restored so far."""
    store = MemorySessionStore()
    store.records["s"] = WHOLE
    parts = keeper_hub(store)
    keeper, hub, broker = parts.keeper, parts.hub, parts.broker
    conn, _, _ = socketless_connection(session="s")
    hub.add(conn)
    keeper.restoring(conn)
    await hub.subscribe(conn, "a", since=3, presence=False, room_timeout=5)
    try:
        yield Resume(keeper, store, hub, conn)
    finally:
        await conn.stop()
        hub.discard(conn)
        await hub.close()
        await broker.close()


async def test_no_round_writes_a_connection_still_restoring(resume: Resume) -> None:
    await resume.keeper.flush()
    assert resume.store.records["s"] == WHOLE


async def test_once_restored_its_record_is_what_it_holds(resume: Resume) -> None:
    await resume.hub.subscribe(resume.conn, "b", since=5, presence=True, room_timeout=5)
    resume.keeper.restored(resume.conn)
    await resume.keeper.flush()
    record = resume.store.records["s"]
    assert set(record.subs) == {"a", "b"}
    assert record.node == "n1"


@pytest.mark.parametrize("written_by", ["n0", "n1"])
async def test_a_connection_that_ends_while_restoring_leaves_the_whole_record(
    resume: Resume, written_by: str
) -> None:
    """Resumed from another node (n0) or on the node that wrote the record (n1)."""
    whole = dataclasses.replace(WHOLE, node=written_by)
    resume.store.records["s"] = whole
    await resume.conn.stop()
    await resume.keeper.closed(resume.conn)
    resume.hub.discard(resume.conn)  # as the endpoint does, with no await between
    assert resume.store.records["s"] == whole
    await resume.keeper.flush()  # nor does a later round write it
    assert resume.store.records["s"] == whole
