"""On the real sessions KV: a round's put of a connection that closed while the
put was queued never lands after the close's final record, so it cannot roll
back the record a resume on another node wrote since (the client would resume
there from this node's stale cursors, and this node's name as the owner).

The keeper runs on a memory broker and socketless connections (the KV order is
what is under test); its store is the real ``KvSessionStore`` with a gate before
one put, the other node's write goes in over a NATS connection of its own.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
from nats.js.api import KeyValueConfig
from nats.js.kv import KeyValue

from haws.common.ack_inbox import AckInbox
from haws.common.session_record import SessionRecord, TopicState
from haws.common.tasks import stop_task
from haws.gateway.sessions.store import KvSessionStore
from tests.support.fake_socket import socketless_connection
from tests.support.held_store import HeldStore
from tests.support.keeper_hub import keeper_hub
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def buckets(
    shared_nats: Any,
) -> AsyncIterator[tuple[KeyValue, KvSessionStore, KvSessionStore]]:
    """One sessions bucket of this test's own, written by two NATS clients (two
    nodes) through their own ack inboxes, as gateways write it."""
    bucket = f"keeper-race-{uuid.uuid4().hex[:8]}"
    here, there = await nats.connect(shared_nats.url), await nats.connect(shared_nats.url)
    inboxes = [AckInbox(here), AckInbox(there)]
    try:
        js = here.jetstream()
        kv = await js.create_key_value(KeyValueConfig(bucket=bucket, history=5))
        for inbox in inboxes:
            await inbox.start()
        try:
            stores = [KvSessionStore(inbox, bucket=bucket, timeout=5.0) for inbox in inboxes]
            yield kv, stores[0], stores[1]
        finally:
            for inbox in inboxes:
                await inbox.stop()
            await js.delete_key_value(bucket)
    finally:
        await here.close()
        await there.close()


async def test_a_queued_round_put_does_not_overwrite_a_resume_on_another_node(
    buckets: tuple[KeyValue, KvSessionStore, KvSessionStore],
) -> None:
    kv, here_store, other_node_store = buckets
    store = HeldStore(here_store)
    parts = keeper_hub(store, concurrency=1)
    keeper, hub, broker, clock = parts.keeper, parts.hub, parts.broker, parts.clock
    sessions = [f"s{i}-{uuid.uuid4().hex[:6]}" for i in range(2)]
    conns = {s: socketless_connection(session=s)[0] for s in sessions}
    round_: asyncio.Task[None] | None = None
    try:
        for conn in conns.values():
            hub.add(conn)
            await hub.subscribe(conn, "a", since=None, presence=False, room_timeout=5)
        await keeper.flush()  # both records written at seq 0
        clock.now += 5.0
        seq, _ = await broker.publish("a", 0, mid=None, sender=None, request_id=0)
        await eventually(
            lambda: (
                all(len(c.queue) == 0 for c in conns.values()) and hub.topics["a"].last_seq == seq
            ),
            message="delivered",
        )
        store.hold()  # the round's first put waits; the other's is queued behind it
        round_ = asyncio.create_task(keeper.flush())
        await eventually(lambda: store.held is not None, message="a round put held")
        queued = next(s for s in sessions if s != store.held)

        conn = conns[queued]
        await conn.stop()
        await keeper.closed(conn)  # its final record, on the real KV
        hub.discard(conn)
        final = SessionRecord.decode((await kv.get(queued)).value or b"")
        assert (final.node, final.subs["a"]) == ("n1", TopicState(seq))
        elsewhere = SessionRecord(subs={"a": TopicState(seq)}, node="n2")
        await other_node_store.put(queued, elsewhere)

        store.release()
        await round_
        entry = await kv.get(queued)
        assert SessionRecord.decode(entry.value or b"") == elsewhere
        history = await kv.history(queued)
        assert [SessionRecord.decode(e.value or b"").node for e in history] == ["n1", "n1", "n2"]
    finally:
        await stop_task(round_)
        for c in conns.values():
            await c.stop()
            hub.discard(c)
        await hub.close()
        await broker.close()


async def test_a_fenced_owner_writes_over_an_older_owner_and_yields_to_a_newer_one(
    buckets: tuple[KeyValue, KvSessionStore, KvSessionStore],
) -> None:
    """The conditional writes on the real KV: node n1 holds the session at epoch 5;
    n2's late write at epoch 4 (the previous owner) is written over at the next
    change, n2's write at epoch 6 (a resume there) is never touched again."""
    kv, here_store, other_node_store = buckets
    parts = keeper_hub(here_store)
    keeper, hub = parts.keeper, parts.hub
    session = f"s-{uuid.uuid4().hex[:6]}"
    conn = socketless_connection(session=session)[0]
    conn.claimed(5)
    hub.add(conn)
    keeper.opened(conn, 0)

    async def change(topic: str) -> None:
        parts.clock.now += 1.0
        await hub.subscribe(conn, topic, since=None, presence=False, room_timeout=5)
        await keeper.flush()

    async def stored() -> SessionRecord:
        return SessionRecord.decode((await kv.get(session)).value or b"")

    try:
        await change("a")
        assert ((await stored()).node, (await stored()).epoch) == ("n1", 5)
        older = SessionRecord(subs={"a": TopicState(0)}, node="n2", epoch=4)
        await other_node_store.put(session, older)
        await change("b")
        assert set((await stored()).subs) == {"a", "b"}
        assert (await stored()).node == "n1"
        newer = SessionRecord(subs={"a": TopicState(0)}, node="n2", epoch=6)
        await other_node_store.put(session, newer)
        await change("c")
        await conn.stop()
        await keeper.closed(conn)
        hub.discard(conn)
        assert await stored() == newer
    finally:
        await conn.stop()
        hub.discard(conn)
        await parts.close()
