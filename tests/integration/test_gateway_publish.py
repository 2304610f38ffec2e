"""pub: ack only after JetStream stored it; mid makes retries idempotent."""

from __future__ import annotations

import pytest
from nats.aio.client import Client as NatsClient

from haws.common import names
from tests.integration.conftest import Connect
from tests.support.gateway_runner import RunningGateway

pytestmark = pytest.mark.integration


async def test_ack_names_the_stored_seq(
    gateway: RunningGateway, connect: Connect, topic: str, nc: NatsClient
) -> None:
    client = await connect(gateway.url)
    ack = await client.pub(topic, {"hello": "world"})
    assert ack["op"] == "ack"
    assert ack["dup"] is False
    stored = await nc.jetstream().get_last_msg(names.STREAM, names.topic_subject(topic))
    assert stored.seq == ack["seq"]


async def test_retry_with_the_same_mid_returns_the_original_seq_and_stores_nothing(
    gateway: RunningGateway, gateway2: RunningGateway, connect: Connect, topic: str
) -> None:
    subscriber = await connect(gateway.url)
    await subscriber.sub(topic)
    client = await connect(gateway.url)
    first = await client.pub(topic, "once", mid="order-42")
    # A retry through another node, as a client that lost its node would send it.
    retry_client = await connect(gateway2.url)
    retry = await retry_client.pub(topic, "once", mid="order-42")
    after = await client.pub(topic, "next")

    assert retry == {"op": "ack", "id": retry["id"], "seq": first["seq"], "dup": True}
    msgs = await subscriber.wait_msgs(topic, 2)
    assert [m["data"] for m in msgs] == ["once", "next"]
    assert msgs[0]["mid"] == "order-42"
    assert msgs[1]["prev"] == first["seq"]
    assert msgs[1]["seq"] == after["seq"]
