"""The hub on the memory broker: topics shared by their subscribers, the seq/prev
chain kept whole across lost live messages and retention, quiet topics resynced."""

from __future__ import annotations

from typing import Any

import msgpack

from haws.common import presence_protocol as pp
from haws.gateway.delivery.connection import Connection
from haws.protocol.codec import MsgpackCodec
from tests.support.fake_socket import FakeTransport, parse_frames, socketless_connection
from tests.support.memory_gateway import MemoryGateway, memory_gateway
from tests.support.waiting import eventually

ROOM = 5.0


async def subscribe(
    gw: MemoryGateway, conn: Connection, topic: str, since: int | None = None
) -> int:
    return await gw.hub.subscribe(conn, topic, since=since, presence=False, room_timeout=ROOM)


async def publish(gw: MemoryGateway, topic: str, data: Any) -> int:
    seq, _ = await gw.broker.publish(topic, data, mid=None, sender=None, request_id=0)
    return seq


def msgs(wire: FakeTransport) -> list[tuple[int, int]]:
    return [(f["seq"], f["prev"]) for f in wire.frames() if f["op"] == "msg"]


async def test_subscribers_of_a_topic_share_it_and_get_the_same_bytes() -> None:
    async with memory_gateway() as gw:
        (a, wire_a), (b, wire_b) = await gw.connect("a"), await gw.connect("b")
        await subscribe(gw, a, "t")
        await subscribe(gw, b, "t")
        assert list(gw.hub.topics) == ["t"]
        assert set(gw.hub.topics["t"].subscribers) == {a, b}
        seq = await publish(gw, "t", "x")
        await eventually(lambda: msgs(wire_a) == msgs(wire_b) == [(seq, 0)], message="both")
        assert wire_a.writes == wire_b.writes  # one encoding, one frame, for both

        gw.hub.unsubscribe(a, "t")
        assert "t" in gw.hub.topics
        gw.hub.discard(b)  # a connection that ends leaves its topics
        assert gw.hub.topics == {}
        assert b not in gw.hub.connections
        assert "b" not in gw.hub.by_session
        await gw.disconnect(a)


async def test_a_lost_live_message_is_read_from_the_stream_before_the_next() -> None:
    async with memory_gateway() as gw:
        conn, wire = await gw.connect("s")
        await subscribe(gw, conn, "t")
        first = await publish(gw, "t", 1)
        gw.broker.lose_live("t")  # core NATS dropped it
        lost = await publish(gw, "t", 2)
        after = await publish(gw, "t", 3)
        await eventually(lambda: len(msgs(wire)) == 3, message="three msgs")
        assert msgs(wire) == [(first, 0), (lost, first), (after, lost)]
        assert not [f for f in wire.frames() if f["op"] == "recovered"]
        await gw.disconnect(conn)


async def test_what_retention_lost_is_announced_and_the_chain_goes_on() -> None:
    async with memory_gateway() as gw:
        conn, wire = await gw.connect("s")
        await subscribe(gw, conn, "t")
        first = await publish(gw, "t", 1)
        await eventually(lambda: msgs(wire) == [(first, 0)], message="first")
        gw.broker.lose_live("t", 2)
        await publish(gw, "t", 2)
        gone = await publish(gw, "t", 3)
        gw.broker.drop("t", gone)  # retention took both before anyone read them
        last = await publish(gw, "t", 4)
        await eventually(lambda: len(msgs(wire)) == 2, message="the next msg")
        frames = wire.frames()
        recovered = [f for f in frames if f["op"] == "recovered"]
        assert recovered == [
            {"op": "recovered", "topic": "t", "complete": False, "from": first + 1, "to": last - 1}
        ]
        assert msgs(wire) == [(first, 0), (last, last - 1)]
        await gw.disconnect(conn)


async def test_a_quiet_topic_that_lost_its_last_message_gets_it_at_resync() -> None:
    async with memory_gateway() as gw:
        conn, wire = await gw.connect("s")
        await subscribe(gw, conn, "t")
        gw.broker.lose_live("t")
        seq = await publish(gw, "t", 1)
        await gw.hub.resync()
        await eventually(lambda: msgs(wire) == [(seq, 0)], message="the lost msg")
        await gw.disconnect(conn)


async def test_a_catch_up_delivers_history_while_live_messages_wait() -> None:
    async with memory_gateway() as gw:
        old = [await publish(gw, "t", n) for n in range(3)]
        conn, wire = await gw.connect("s")
        assert await subscribe(gw, conn, "t", since=0) == old[-1]
        new = await publish(gw, "t", 3)
        await eventually(
            lambda: any(f["op"] == "recovered" for f in wire.frames()) and len(msgs(wire)) == 4,
            message="history, recovered, live",
        )
        assert [s for s, _ in msgs(wire)] == [*old, new]
        assert conn.subs["t"].live
        await gw.disconnect(conn)


async def test_a_presence_change_reaches_every_presence_subscriber_in_its_own_codec() -> None:
    async with memory_gateway() as gw:
        (a, wire_a), (b, wire_b) = await gw.connect("a"), await gw.connect("b")
        m, wire_m, _ = socketless_connection(session="m", codec=MsgpackCodec())
        quiet, wire_quiet = await gw.connect("q")  # subscribed without presence
        gw.hub.add(m)
        for conn in (a, b, m):
            await gw.hub.subscribe(conn, "t", since=None, presence=True, room_timeout=ROOM)
        await subscribe(gw, quiet, "t")
        gw.broker.change(pp.Change("join", "t", "x", "ann", revision=1))
        join = {"op": "join", "topic": "t", "who": {"session": "x", "user": "ann"}}
        await eventually(lambda: join in wire_a.frames(), message="a's join")
        await eventually(lambda: join in wire_b.frames(), message="b's join")
        await eventually(
            lambda: join in [msgpack.unpackb(p) for d in wire_m.writes for _, p in parse_frames(d)],
            message="the msgpack subscriber's join",
        )
        assert all(f["op"] != "join" for f in wire_quiet.frames())
        for conn in (a, b, quiet):
            await gw.disconnect(conn)
        await m.stop()


async def test_presence_changes_arriving_together_follow_the_messages_before_them() -> None:
    async with memory_gateway() as gw:
        conn, wire = await gw.connect("a")
        await gw.hub.subscribe(conn, "t", since=None, presence=True, room_timeout=ROOM)
        seq = await publish(gw, "t", "before")
        await eventually(lambda: msgs(wire) == [(seq, 0)], message="the message")
        later = await publish(gw, "t", "with them")
        changes = [
            pp.Change("join", "t", "x", None, revision=10),
            pp.Change("join", "t", "y", None, revision=11),
            pp.Change("leave", "t", "x", None, revision=12),
        ]
        for change in changes:
            gw.broker.change(change)

        def seen() -> list[tuple[str, Any]]:
            return [
                (f["op"], f.get("seq") or f["who"]["session"])
                for f in wire.frames()
                if f["op"] in ("msg", "join", "leave")
            ]

        expected = [("msg", seq), ("msg", later), ("join", "x"), ("join", "y"), ("leave", "x")]
        await eventually(lambda: seen() == expected, message="message, then the changes")
        await gw.disconnect(conn)
