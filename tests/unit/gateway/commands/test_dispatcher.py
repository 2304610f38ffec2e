"""Protocol requests after ``hello``, through the dispatcher on the memory broker:
no socket, no nats-server. Each test is a short conversation as a client sees it."""

from __future__ import annotations

from typing import Any

import pytest

from haws.gateway.delivery.connection import Connection
from haws.gateway.security.grants import Grants, Principal
from haws.protocol.client_frames import parse_client_frame
from haws.protocol.errors import BadRequest, Forbidden, NotFound, TooLarge
from tests.support.fake_socket import FakeTransport
from tests.support.memory_gateway import MemoryGateway, memory_gateway
from tests.support.waiting import eventually


async def say(gw: MemoryGateway, conn: Connection, frame: dict[str, Any]) -> None:
    await gw.dispatcher.dispatch(conn, parse_client_frame(frame))


async def heard(wire: FakeTransport, count: int) -> list[dict[str, Any]]:
    """The first ``count`` frames the client got, once it has them."""
    await eventually(lambda: len(wire.frames()) >= count, timeout=5, message=f"{count} frames")
    return wire.frames()[:count]


async def test_sub_pub_ack_and_the_msg_chain() -> None:
    async with memory_gateway() as gw:
        conn, wire = await gw.connect("s1", user="alice")
        await say(gw, conn, {"op": "sub", "id": 1, "topic": "chat"})
        await say(gw, conn, {"op": "pub", "id": 2, "topic": "chat", "data": "hi"})
        await say(gw, conn, {"op": "pub", "id": 3, "topic": "chat", "data": {"n": 2}})
        frames = await heard(wire, 5)
        by_op = {(f["op"], f.get("id")): f for f in frames}
        assert by_op["ok", 1] == {"op": "ok", "id": 1, "topic": "chat", "seq": 0}
        assert by_op["ack", 2] == {"op": "ack", "id": 2, "seq": 1, "dup": False}
        assert by_op["ack", 3] == {"op": "ack", "id": 3, "seq": 2, "dup": False}
        msgs = [f for f in frames if f["op"] == "msg"]
        assert [(m["seq"], m["prev"], m["data"]) for m in msgs] == [(1, 0, "hi"), (2, 1, {"n": 2})]
        assert msgs[0]["from"] == "alice"
        await gw.disconnect(conn)


async def test_a_retried_mid_is_acked_with_the_original_seq_and_delivered_once() -> None:
    async with memory_gateway() as gw:
        conn, wire = await gw.connect("s1")
        await say(gw, conn, {"op": "sub", "id": 1, "topic": "orders"})
        for request in (2, 3):
            await say(
                gw, conn, {"op": "pub", "id": request, "topic": "orders", "data": 1, "mid": "m"}
            )
        await say(gw, conn, {"op": "ping", "id": 4})
        frames = await heard(wire, 5)
        acks = [f for f in frames if f["op"] == "ack"]
        assert [(a["seq"], a["dup"]) for a in acks] == [(1, False), (1, True)]
        assert [f["seq"] for f in frames if f["op"] == "msg"] == [1]
        assert {"op": "pong", "id": 4} in frames
        await gw.disconnect(conn)


async def test_a_sub_with_since_gets_history_then_recovered_then_live() -> None:
    async with memory_gateway() as gw:
        for n in range(3):
            await gw.broker.publish("news", n, mid=None, sender=None, request_id=n)
        conn, wire = await gw.connect("s1")
        await say(gw, conn, {"op": "sub", "id": 1, "topic": "news", "since": 1})
        frames = await heard(wire, 4)
        assert frames[0] == {"op": "ok", "id": 1, "topic": "news", "seq": 3}
        assert [(f["seq"], f["prev"]) for f in frames[1:3]] == [(2, 1), (3, 2)]
        assert frames[3] == {"op": "recovered", "topic": "news", "complete": True}
        await say(gw, conn, {"op": "pub", "id": 2, "topic": "news", "data": "live"})
        frames = await heard(wire, 6)
        assert [(f["op"], f.get("seq")) for f in frames[4:]] in (
            [("ack", 4), ("msg", 4)],
            [("msg", 4), ("ack", 4)],
        )
        await gw.disconnect(conn)


async def test_unsub_stops_delivery_and_answers_the_last_seq() -> None:
    async with memory_gateway() as gw:
        conn, wire = await gw.connect("s1")
        other, _ = await gw.connect("s2")
        await say(gw, conn, {"op": "sub", "id": 1, "topic": "t"})
        await say(gw, other, {"op": "pub", "id": 1, "topic": "t", "data": 1})
        await heard(wire, 2)
        await say(gw, conn, {"op": "unsub", "id": 2, "topic": "t"})
        assert "t" not in gw.hub.topics  # the last subscriber gone: the topic's feed too
        await say(gw, other, {"op": "pub", "id": 2, "topic": "t", "data": 2})
        await say(gw, conn, {"op": "ping", "id": 3})
        frames = await heard(wire, 4)
        assert frames[2] == {"op": "ok", "id": 2, "topic": "t", "seq": 1}
        assert frames[3] == {"op": "pong", "id": 3}
        await gw.broker.settled()  # every live delivery made: still no msg 2
        assert [f["seq"] for f in wire.frames() if f["op"] == "msg"] == [1]
        with pytest.raises(NotFound) as refused:
            await say(gw, conn, {"op": "unsub", "id": 4, "topic": "t"})
        assert refused.value.request_id == 4
        await gw.disconnect(conn)
        await gw.disconnect(other)


async def test_a_second_sub_stands_and_the_limit_is_an_error() -> None:
    async with memory_gateway(max_subscriptions=2) as gw:
        conn, wire = await gw.connect("s1")
        await say(gw, conn, {"op": "sub", "id": 1, "topic": "a"})
        await say(gw, conn, {"op": "sub", "id": 2, "topic": "a"})
        await say(gw, conn, {"op": "sub", "id": 3, "topic": "b"})
        with pytest.raises(TooLarge) as refused:
            await say(gw, conn, {"op": "sub", "id": 4, "topic": "c"})
        assert refused.value.request_id == 4
        frames = await heard(wire, 3)
        assert [(f["op"], f["id"]) for f in frames] == [("ok", 1), ("ok", 2), ("ok", 3)]
        assert set(conn.subs) == {"a", "b"}
        await gw.disconnect(conn)


async def test_what_the_grants_do_not_cover_is_forbidden() -> None:
    principal = Principal("bob", Grants.of(sub=["public.>"], pub=[]))
    async with memory_gateway() as gw:
        conn, _ = await gw.connect("s1", user="bob", principal=principal)
        with pytest.raises(Forbidden):
            await say(gw, conn, {"op": "sub", "id": 1, "topic": "private.x"})
        with pytest.raises(Forbidden):
            await say(gw, conn, {"op": "pub", "id": 2, "topic": "public.x", "data": 1})
        assert await gw.broker.last_seq("public.x") == 0
        await gw.disconnect(conn)


async def test_a_second_hello_is_a_bad_request() -> None:
    async with memory_gateway() as gw:
        conn, _ = await gw.connect("s1")
        with pytest.raises(BadRequest):
            await say(gw, conn, {"op": "hello", "v": 1})
        await gw.disconnect(conn)


async def test_presence_members_and_joins() -> None:
    async with memory_gateway() as gw:
        conn, wire = await gw.connect("s1", user="alice")
        await say(gw, conn, {"op": "sub", "id": 1, "topic": "room", "presence": True})
        other, _ = await gw.connect("s2", user="bob")
        await say(gw, other, {"op": "sub", "id": 1, "topic": "room", "presence": True})
        await eventually(
            lambda: (
                {"op": "join", "topic": "room", "who": {"session": "s2", "user": "bob"}}
                in wire.frames()
            ),
            timeout=5,
            message="bob's join",
        )
        await say(gw, conn, {"op": "presence", "id": 2, "topic": "room"})
        answer = next(f for f in await heard(wire, 4) if f["op"] == "presence")
        assert answer["id"] == 2
        assert sorted(m["session"] for m in answer["members"]) == ["s1", "s2"]
        await gw.disconnect(other)
        await eventually(
            lambda: (
                {"op": "leave", "topic": "room", "who": {"session": "s2", "user": "bob"}}
                in wire.frames()
            ),
            timeout=5,
            message="bob's leave",
        )
        await gw.disconnect(conn)
