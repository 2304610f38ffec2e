"""Failover and exactly-once against real gateways on real nats-server and Consul."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from haws.client import ClientClosed, State
from tests.integration.client.conftest import MakeClient, take
from tests.integration.client.ws_proxy import WsProxy
from tests.support.gateway_runner import RunningGateway
from tests.support.waiting import eventually
from tests.support.ws_client import WsClient

PUBLISHES = 300
STOP_AFTER = 100


async def test_stopping_the_node_fails_over_and_resumes_with_no_loss_and_no_duplicate(
    gateway: RunningGateway, gateway2: RunningGateway, make_client: MakeClient, topic: str
) -> None:
    # Only the first node is seeded: discovery must find the second one.
    subscriber = make_client([gateway.url])
    await subscriber.connect()
    assert subscriber.node == gateway.deps.node
    assert gateway2.url in subscriber.urls
    stream = subscriber.subscription(topic)
    await subscriber.subscribe(topic)

    publisher = make_client([gateway.url])
    await publisher.connect()
    acked: list[int] = []
    halfway = asyncio.Event()

    async def publish_all() -> None:
        for n in range(PUBLISHES):
            ack = await publisher.publish(topic, n)
            acked.append(ack.seq)
            if n == STOP_AFTER:
                halfway.set()

    publishing = asyncio.create_task(publish_all())
    try:
        async with asyncio.timeout(10):
            await halfway.wait()
        await gateway.stop()
        async with asyncio.timeout(15):
            await publishing
    finally:
        publishing.cancel()
        await asyncio.gather(publishing, return_exceptions=True)

    got = await take(stream, PUBLISHES)

    assert [m.seq for m in got] == acked
    assert [m.data for m in got] == list(range(PUBLISHES))
    assert acked == sorted(acked)
    # Connected to the survivor (eventually: a loaded machine may see a reconnect).
    await eventually(lambda: subscriber.node == publisher.node == gateway2.deps.node)
    stats = subscriber.stats
    assert stats.gaps == 0
    assert stats.resumes == 1
    assert publisher.stats.acked == PUBLISHES


async def test_publish_cut_off_before_its_ack_is_stored_exactly_once(
    gateway: RunningGateway, make_client: MakeClient, topic: str
) -> None:
    def is_ack(frame: dict[str, Any]) -> bool:
        return frame.get("op") == "ack"

    # Stored, then cut before the ack: twice (the retry's ack is cut too).
    async with WsProxy(gateway.url, cut_before=is_ack, max_cuts=2) as proxy:
        client = make_client([proxy.url], discover=False, batch=False)
        await client.connect()
        async with asyncio.timeout(10):
            ack = await client.publish(topic, "once")
        assert ack.dup is True
        assert proxy.cuts == 2
        stats = client.stats
        assert (stats.sent, stats.acked, stats.reconnects) == (3, 1, 2)

    reader = await WsClient.connect(gateway.url)
    try:
        await reader.hello()
        await reader.sub(topic, since=0)
        await eventually(lambda: any(f.get("op") == "recovered" for f in reader.others), 5)
        stored = reader.msgs[topic]
    finally:
        await reader.close()
    assert [(m["seq"], m["data"]) for m in stored] == [(ack.seq, "once")]


async def test_client_closes_cleanly_while_reconnecting(
    gateway: RunningGateway, make_client: MakeClient, topic: str
) -> None:
    client = make_client([gateway.url], discover=False)
    await client.connect()
    await gateway.stop()
    await eventually(lambda: client.state is State.RECONNECTING, timeout=5)
    pending = asyncio.create_task(client.publish(topic, "never"))
    await eventually(lambda: client.pending == 1, timeout=5)
    await client.close()
    assert client.state is State.CLOSED
    assert client.stats.sent == 0
    with pytest.raises(ClientClosed):
        await pending
