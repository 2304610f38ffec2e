"""Bad input gets the protocol's error or close code; nothing else is affected.

Every test keeps a bystander subscribed on the same node and checks it still
receives, in order, after the bad client has done its worst.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgpack
import pytest

from tests.integration.conftest import Connect
from tests.support.gateway_runner import RunningGateway, gateway_settings, running_gateway
from tests.support.ws_client import MSGPACK, WsClient, assert_chain

pytestmark = pytest.mark.integration


@pytest.fixture
async def strict_gateway(shared_nats: Any, consul_agent: Any) -> AsyncIterator[RunningGateway]:
    settings = gateway_settings(
        shared_nats.url,
        consul_agent.http_url,
        handshake_timeout=0.5,
        max_frame_bytes=4096,
        max_subscriptions=3,
    )
    async with running_gateway(settings) as gw:
        yield gw


@pytest.fixture
async def bystander(strict_gateway: RunningGateway, connect: Connect, topic: str) -> WsClient:
    client = await connect(strict_gateway.url)
    await client.sub(topic)
    return client


async def assert_unaffected(
    gw: RunningGateway, bystander: WsClient, connect: Connect, topic: str
) -> None:
    publisher = await connect(gw.url)
    before = len(bystander.msgs[topic])
    await publisher.pub(topic, "still here")
    msgs = await bystander.wait_msgs(topic, before + 1)
    assert msgs[-1]["data"] == "still here"
    assert_chain(msgs)
    assert (await bystander.request({"op": "ping"}))["op"] == "pong"


async def test_unparseable_frame_closes_4002(
    strict_gateway: RunningGateway, bystander: WsClient, connect: Connect, topic: str
) -> None:
    bad = await connect(strict_gateway.url)
    await bad.send_raw("{not json")
    assert await bad.wait_closed() == 4002
    await assert_unaffected(strict_gateway, bystander, connect, topic)


async def test_non_object_msgpack_frame_closes_4002(
    strict_gateway: RunningGateway, bystander: WsClient, connect: Connect, topic: str
) -> None:
    bad = await connect(strict_gateway.url, protocol=MSGPACK)
    await bad.send_raw(msgpack.packb([1, 2, 3]))
    assert await bad.wait_closed() == 4002
    await assert_unaffected(strict_gateway, bystander, connect, topic)


async def test_unknown_op_is_bad_request_and_the_connection_stays(
    strict_gateway: RunningGateway, bystander: WsClient, connect: Connect, topic: str
) -> None:
    client = await connect(strict_gateway.url)
    reply = await client.request({"op": "teleport"})
    assert reply["op"] == "error"
    assert reply["code"] == "bad_request"
    assert (await client.request({"op": "ping"}))["op"] == "pong"
    await assert_unaffected(strict_gateway, bystander, connect, topic)


@pytest.mark.parametrize(
    "frame",
    [
        {"op": "sub"},  # no topic
        {"op": "sub", "topic": 7},
        {"op": "sub", "topic": "ok", "since": "yesterday"},
        {"op": "sub", "topic": "ok", "since": -1},
        {"op": "sub", "topic": "ok", "presence": "yes"},
        {"op": "pub", "topic": "ok"},  # no data
        {"op": "pub", "topic": "ok", "data": 1, "mid": 5},
        {"op": "unsub", "topic": ["a"]},
        {"op": "presence"},
    ],
)
async def test_missing_or_mistyped_fields_are_bad_request(
    strict_gateway: RunningGateway,
    bystander: WsClient,
    connect: Connect,
    topic: str,
    frame: dict[str, Any],
) -> None:
    client = await connect(strict_gateway.url)
    reply = await client.request(frame)
    assert (reply["op"], reply["code"]) == ("error", "bad_request"), reply
    assert (await client.request({"op": "ping"}))["op"] == "pong"
    await assert_unaffected(strict_gateway, bystander, connect, topic)


async def test_frame_without_an_integer_id_is_bad_request(
    strict_gateway: RunningGateway, connect: Connect
) -> None:
    client = await connect(strict_gateway.url)
    await client.send({"op": "sub", "id": "one", "topic": "ok"})
    reply = await client.recv("error")
    assert reply["code"] == "bad_request"
    assert "id" not in reply


@pytest.mark.parametrize(
    "bad_topic",
    ["", "a..b", ".a", "a.", "a b", "a.*", "a.>", "ü", "x" * 201, "a/b"],
)
async def test_invalid_topic_is_bad_request(
    strict_gateway: RunningGateway, connect: Connect, bad_topic: str
) -> None:
    client = await connect(strict_gateway.url)
    for op in ("sub", "pub", "unsub"):
        reply = await client.request({"op": op, "topic": bad_topic, "data": 1})
        assert (reply["op"], reply["code"]) == ("error", "bad_request"), (op, reply)


async def test_longest_valid_topic_is_accepted(
    strict_gateway: RunningGateway, connect: Connect
) -> None:
    client = await connect(strict_gateway.url)
    reply = await client.sub("A-z_0:9." + "x" * 192)
    assert reply["op"] == "ok"


async def test_frame_over_the_size_limit_closes_1009(
    strict_gateway: RunningGateway, bystander: WsClient, connect: Connect, topic: str
) -> None:
    client = await connect(strict_gateway.url)
    await client.send({"op": "pub", "id": 1, "topic": topic, "data": "x" * 5000})
    assert await client.wait_closed() == 1009
    await assert_unaffected(strict_gateway, bystander, connect, topic)
    assert [m["data"] for m in bystander.msgs[topic]] == ["still here"]


async def test_no_hello_in_time_closes_4002(
    strict_gateway: RunningGateway, bystander: WsClient, connect: Connect, topic: str
) -> None:
    silent = await connect(strict_gateway.url, hello=False)
    assert await silent.wait_closed(timeout=5) == 4002
    await assert_unaffected(strict_gateway, bystander, connect, topic)


async def test_pub_before_hello_closes_4002_and_stores_nothing(
    strict_gateway: RunningGateway, bystander: WsClient, connect: Connect, topic: str
) -> None:
    eager = await connect(strict_gateway.url, hello=False)
    await eager.send({"op": "pub", "id": 1, "topic": topic, "data": "sneaky"})
    assert await eager.wait_closed() == 4002
    await assert_unaffected(strict_gateway, bystander, connect, topic)
    assert [m["data"] for m in bystander.msgs[topic]] == ["still here"]


async def test_bad_hello_closes_4002(strict_gateway: RunningGateway, connect: Connect) -> None:
    client = await connect(strict_gateway.url, hello=False)
    await client.send({"op": "hello", "v": 2})
    assert await client.wait_closed() == 4002


async def test_subscriptions_over_the_limit_are_refused(
    strict_gateway: RunningGateway, bystander: WsClient, connect: Connect, topic: str
) -> None:
    client = await connect(strict_gateway.url)
    for n in range(3):
        assert (await client.sub(f"{topic}.{n}"))["op"] == "ok"
    reply = await client.sub(f"{topic}.3")
    assert reply["op"] == "error"
    assert reply["code"] == "too_large"
    # The existing subscriptions keep working.
    await client.pub(f"{topic}.0", "in")
    assert (await client.wait_msgs(f"{topic}.0", 1))[0]["data"] == "in"
    await assert_unaffected(strict_gateway, bystander, connect, topic)


async def test_second_hello_is_bad_request(
    strict_gateway: RunningGateway, connect: Connect
) -> None:
    client = await connect(strict_gateway.url)
    await client.send({"op": "hello", "v": 1})
    assert (await client.recv("error"))["code"] == "bad_request"
