"""Messages published on one gateway reach subscribers on every gateway, in order."""

from __future__ import annotations

import pytest

from tests.integration.conftest import Connect
from tests.support.gateway_runner import RunningGateway
from tests.support.ws_client import MSGPACK, assert_chain

pytestmark = pytest.mark.integration


async def test_publish_on_one_node_is_delivered_on_another_with_a_seq_chain(
    gateway: RunningGateway, gateway2: RunningGateway, connect: Connect, topic: str
) -> None:
    receiver = await connect(gateway.url)
    publisher = await connect(gateway2.url)
    ok = await receiver.sub(topic)
    assert ok == {"op": "ok", "id": ok["id"], "topic": topic, "seq": 0}

    acks = [await publisher.pub(topic, {"n": n}) for n in range(20)]

    msgs = await receiver.wait_msgs(topic, 20)
    assert [m["seq"] for m in msgs] == [a["seq"] for a in acks]
    assert [m["data"] for m in msgs] == [{"n": n} for n in range(20)]
    assert_chain(msgs, first_prev=0)
    assert all(m["ts"] > 1_600_000_000_000 for m in msgs)


async def test_json_and_msgpack_subscribers_get_the_same_messages(
    gateway: RunningGateway, gateway2: RunningGateway, connect: Connect, topic: str
) -> None:
    as_json = await connect(gateway.url)
    as_msgpack = await connect(gateway.url, protocol=MSGPACK)
    publisher = await connect(gateway2.url, protocol=MSGPACK)
    await as_json.sub(topic)
    await as_msgpack.sub(topic)

    await publisher.pub(topic, {"text": "hi", "n": [1, 2]})
    await publisher.pub(topic, b"\x00\x01raw")

    j = await as_json.wait_msgs(topic, 2)
    m = await as_msgpack.wait_msgs(topic, 2)
    assert [x["seq"] for x in j] == [x["seq"] for x in m]
    assert j[0]["data"] == m[0]["data"] == {"text": "hi", "n": [1, 2]}
    assert m[1]["data"] == b"\x00\x01raw"
    assert j[1]["data"] == "AAFyYXc="  # bytes reach JSON clients as base64


async def test_unsub_stops_delivery_and_answers_the_last_seq(
    gateway: RunningGateway, connect: Connect, topic: str
) -> None:
    client = await connect(gateway.url)
    other = await connect(gateway.url)
    await client.sub(topic)
    await other.sub(topic)
    first = await other.pub(topic, 1)
    await client.wait_msgs(topic, 1)

    reply = await client.request({"op": "unsub", "topic": topic})
    assert reply["op"] == "ok"
    assert reply["seq"] == first["seq"]
    second = await other.pub(topic, 2)
    await other.wait_msgs(topic, 2)
    assert [m["seq"] for m in client.msgs[topic]] == [first["seq"]]
    assert second["seq"] > first["seq"]
    # Reference-counted: the NATS subscription stays for the remaining subscriber...
    assert len(gateway.deps.hub.topics[topic].subscribers) == 1
    await other.request({"op": "unsub", "topic": topic})
    # ...and goes with the last one.
    assert topic not in gateway.deps.hub.topics


async def test_batched_client_gets_several_frames_per_websocket_message(
    gateway: RunningGateway, connect: Connect, topic: str
) -> None:
    publisher = await connect(gateway.url)
    for n in range(30):
        await publisher.pub(topic, n)
    batched = await connect(gateway.url, batch=True)
    await batched.sub(topic, since=0)
    msgs = await batched.wait_msgs(topic, 30)
    assert [m["data"] for m in msgs] == list(range(30))
    assert_chain(msgs, first_prev=0)
    assert (await batched.recv("recovered"))["complete"] is True


async def test_ping_is_answered_with_pong(gateway: RunningGateway, connect: Connect) -> None:
    client = await connect(gateway.url)
    assert await client.request({"op": "ping"}) == {"op": "pong", "id": 1}
