"""Whole protocol conversations with ``create_app`` on the memory broker: the real
``/ws`` endpoint on a loopback socket, no nats-server and no Consul.

These are the protocol's paths a client takes (hello, sub, pub/ack, the msg
chain, resume with cursors, unsub, errors) with every broker behind the seams
in memory, so they run in a fraction of a second each; the same paths on real
JetStream are in the other ``test_gateway_*`` files.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from haws.gateway.app import DEPS, create_app
from tests.support.memory_gateway import MemoryGateway, memory_gateway
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

TIMEOUT = 5.0


class Client:
    """One WebSocket client speaking JSON, reading frames as they come."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self._next_id = 0

    async def send(self, frame: dict[str, Any]) -> int:
        if "id" not in frame and frame["op"] != "hello":
            self._next_id += 1
            frame = {**frame, "id": self._next_id}
        await self.ws.send_str(json.dumps(frame))
        return int(frame.get("id", 0))

    async def next(self) -> dict[str, Any]:
        message = await self.ws.receive(timeout=TIMEOUT)
        assert message.type == aiohttp.WSMsgType.TEXT, message
        frame: dict[str, Any] = json.loads(message.data)
        self.frames.append(frame)
        return frame

    async def until(self, op: str, **fields: Any) -> dict[str, Any]:
        """Read on until a frame of ``op`` with ``fields``; the frames passed are kept."""
        while True:
            frame = await self.next()
            if frame["op"] == op and all(frame.get(k) == v for k, v in fields.items()):
                return frame

    def seen(self, op: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["op"] == op]


@pytest.fixture
async def gw() -> AsyncIterator[MemoryGateway]:
    async with memory_gateway() as gateway:
        yield gateway


@pytest.fixture
async def http(gw: MemoryGateway) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(create_app(gw.deps), host="127.0.0.1")) as client:
        yield client


def pub(topic: str, data: Any) -> dict[str, Any]:
    return {"op": "pub", "topic": topic, "data": data}


async def connect(http: TestClient[Any, Any], **hello: Any) -> tuple[Client, dict[str, Any]]:
    client = Client(await http.ws_connect("/ws", protocols=("haws.v1.json",)))
    await client.send({"op": "hello", "v": 1, **hello})
    welcome = await client.next()
    assert welcome["op"] == "welcome"
    return client, welcome


async def test_create_app_serves_the_routes_of_a_node(
    gw: MemoryGateway, http: TestClient[Any, Any]
) -> None:
    assert create_app(gw.deps)[DEPS] is gw.deps  # a pure factory: nothing connects
    assert (await http.get("/health")).status == 200
    assert (await http.get("/ready")).status == 200
    assert "haws_gateway_connections" in await (await http.get("/metrics")).text()
    assert (await http.get("/v1/gateways")).status == 503  # no Consul here
    presence = await http.get("/v1/presence/room")
    assert (presence.status, await presence.json()) == (200, {"topic": "room", "members": []})
    assert (await http.get("/v1/presence/bad..topic")).status == 400


async def test_a_conversation_hello_sub_pub_ack_msg_unsub(http: TestClient[Any, Any]) -> None:
    alice, welcome = await connect(http)
    assert welcome["resumed"] is False
    assert welcome["node"] == "memory-1"
    bob, _ = await connect(http)
    sub = await alice.send({"op": "sub", "topic": "chat"})
    assert await alice.until("ok", id=sub) == {"op": "ok", "id": sub, "topic": "chat", "seq": 0}

    first = await bob.send({"op": "pub", "topic": "chat", "data": "hi"})
    ack = await bob.until("ack", id=first)
    assert (ack["seq"], ack["dup"]) == (1, False)
    second = await bob.send({"op": "pub", "topic": "chat", "data": {"n": 2}, "mid": "m-2"})
    retry = await bob.send({"op": "pub", "topic": "chat", "data": {"n": 2}, "mid": "m-2"})
    assert (await bob.until("ack", id=second))["seq"] == 2
    assert await bob.until("ack", id=retry) == {"op": "ack", "id": retry, "seq": 2, "dup": True}

    got = [await alice.until("msg"), await alice.until("msg")]
    assert [(m["seq"], m["prev"], m["data"]) for m in got] == [(1, 0, "hi"), (2, 1, {"n": 2})]

    unsub = await alice.send({"op": "unsub", "topic": "chat"})
    assert await alice.until("ok", id=unsub) == {"op": "ok", "id": unsub, "topic": "chat", "seq": 2}
    late = await bob.send({"op": "pub", "topic": "chat", "data": "late"})
    await bob.until("ack", id=late)
    ping = await alice.send({"op": "ping"})
    await alice.until("pong", id=ping)
    assert [m["seq"] for m in alice.seen("msg")] == [1, 2]


async def test_errors_answer_the_request_and_the_connection_goes_on(
    http: TestClient[Any, Any],
) -> None:
    client, _ = await connect(http)
    bad = await client.send({"op": "sub", "topic": "no spaces"})
    assert (await client.until("error", id=bad))["code"] == "bad_request"
    missing = await client.send({"op": "unsub", "topic": "never"})
    assert (await client.until("error", id=missing))["code"] == "not_found"
    again = await client.send({"op": "hello", "v": 1})
    assert (await client.until("error"))["code"] == "bad_request"
    assert again == 0
    ping = await client.send({"op": "ping"})
    assert await client.until("pong", id=ping) == {"op": "pong", "id": ping}

    await client.ws.send_str("{not json")
    closed = await client.ws.receive(timeout=TIMEOUT)
    assert closed.type == aiohttp.WSMsgType.CLOSE
    assert client.ws.close_code == 4002


async def test_no_hello_first_is_refused_with_4002(http: TestClient[Any, Any]) -> None:
    ws = await http.ws_connect("/ws")
    await ws.send_str(json.dumps({"op": "ping", "id": 1}))
    closed = await ws.receive(timeout=TIMEOUT)
    assert closed.type == aiohttp.WSMsgType.CLOSE
    assert ws.close_code == 4002


async def test_a_resume_with_cursors_gets_what_it_missed_once_then_live(
    gw: MemoryGateway, http: TestClient[Any, Any]
) -> None:
    client, welcome = await connect(http)
    session = welcome["session"]
    await client.until("ok", id=await client.send({"op": "sub", "topic": "feed"}))
    publisher, _ = await connect(http)
    for n in range(2):
        await publisher.until(
            "ack", id=await publisher.send({"op": "pub", "topic": "feed", "data": n})
        )
    cursor = (await client.until("msg", seq=2))["seq"]
    await client.ws.close()
    await eventually(lambda: session not in gw.hub.by_session, message="the first one gone")

    for n in range(2, 5):
        await publisher.until(
            "ack", id=await publisher.send({"op": "pub", "topic": "feed", "data": n})
        )
    resumed, again = await connect(http, session=session, cursors={"feed": cursor})
    assert again["resumed"] is True
    assert again["session"] == session
    recovered = await resumed.until("recovered", topic="feed")
    assert recovered["complete"] is True
    assert [(m["seq"], m["prev"]) for m in resumed.seen("msg")] == [(3, 2), (4, 3), (5, 4)]

    live = await publisher.send({"op": "pub", "topic": "feed", "data": 5})
    await publisher.until("ack", id=live)
    assert (await resumed.until("msg"))["seq"] == 6


async def test_a_resume_past_retention_is_told_what_it_lost(
    gw: MemoryGateway, http: TestClient[Any, Any]
) -> None:
    for n in range(4):
        await gw.broker.publish("old", n, mid=None, sender=None, request_id=n)
    gw.broker.drop("old", 3)
    client, _ = await connect(http, session="s-lost", cursors={"old": 1})
    recovered = await client.until("recovered", topic="old")
    assert recovered == {"op": "recovered", "topic": "old", "complete": False, "from": 2, "to": 3}
    assert [(m["seq"], m["prev"]) for m in client.seen("msg")] == [(4, 1)]


async def test_a_newer_hello_of_the_session_takes_it_over(http: TestClient[Any, Any]) -> None:
    first, welcome = await connect(http)
    second, _ = await connect(http, session=welcome["session"])
    assert await first.until("reconnect") == {"op": "reconnect", "reason": "takeover", "delay": 0}
    closed = await first.ws.receive(timeout=TIMEOUT)
    assert closed.type == aiohttp.WSMsgType.CLOSE
    assert first.ws.close_code == 4009
    ping = await second.send({"op": "ping"})
    await second.until("pong", id=ping)
