"""A subscriber that does not read is closed 4008; nobody else waits for it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.integration.conftest import Connect
from tests.support.gateway_runner import RunningGateway, gateway_settings, running_gateway
from tests.support.waiting import eventually
from tests.support.ws_client import WsClient, assert_chain

pytestmark = pytest.mark.integration

PAYLOAD = "x" * 8000


@pytest.fixture
async def small_queue_gateway(shared_nats: Any, consul_agent: Any) -> AsyncIterator[RunningGateway]:
    settings = gateway_settings(
        shared_nats.url,
        consul_agent.http_url,
        send_queue_bytes=64 * 1024,
        send_queue_frames=64,
        slow_consumer_grace=30.0,
    )
    async with running_gateway(settings) as gw:
        yield gw


async def test_reader_that_stops_reading_is_closed_4008_and_others_get_everything(
    small_queue_gateway: RunningGateway, connect: Connect, topic: str
) -> None:
    gw = small_queue_gateway
    healthy = await connect(gw.url)
    await healthy.sub(topic)
    stalled = await connect(gw.url)
    await stalled.sub(topic)
    # Stop reading: the socket fills, then the gateway's queue for this client.
    stalled._reader.cancel()
    await asyncio.gather(stalled._reader, return_exceptions=True)

    publisher = await connect(gw.url)
    sent = 0

    def slow_consumer_seen() -> bool:
        return gw.deps.metrics.slow_consumers._value.get() >= 1 or any(
            c.queue.overflowed for c in gw.deps.hub.connections
        )

    while not slow_consumer_seen() and sent < 3000:
        await publisher.pub(topic, {"n": sent, "pad": PAYLOAD})
        sent += 1
    assert slow_consumer_seen(), "the stalled client never overflowed"

    # The healthy subscriber got every message, in order, while the other stalled.
    msgs = await healthy.wait_msgs(topic, sent, timeout=30)
    assert [m["data"]["n"] for m in msgs] == list(range(sent))
    assert_chain(msgs, first_prev=0)

    # The stalled client, reading again, sees what was queued and then 4008.
    late = WsClient(stalled.ws, stalled._session)
    assert await late.wait_closed(timeout=30) == 4008
    got = [m["data"]["n"] for m in late.msgs[topic]]
    assert got == list(range(len(got)))  # a prefix, in order: the rest it resumes
    await eventually(lambda: len(gw.deps.hub.connections) == 2, message="stalled conn gone")
    assert gw.deps.metrics.slow_consumers._value.get() == 1


async def test_history_larger_than_the_send_queue_is_paced_not_cut(
    small_queue_gateway: RunningGateway, connect: Connect, topic: str
) -> None:
    publisher = await connect(small_queue_gateway.url)
    for n in range(300):
        await publisher.pub(topic, {"n": n, "pad": "y" * 2000})
    reader = await connect(small_queue_gateway.url)
    await reader.sub(topic, since=0)
    msgs = await reader.wait_msgs(topic, 300, timeout=30)
    assert [m["data"]["n"] for m in msgs] == list(range(300))
    assert_chain(msgs, first_prev=0)
    assert (await reader.recv("recovered"))["complete"] is True
    assert not reader.closed.is_set()
