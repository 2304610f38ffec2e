"""A slow application pushes back on the socket until the gateway closes 4008; the
client resumes from its cursor and the application still gets every message once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.integration.client.conftest import MakeClient, take
from tests.support.gateway_runner import RunningGateway, gateway_settings, running_gateway

BATCH = 100
MAX_MESSAGES = 6000
PAYLOAD = "x" * 8000


@pytest.fixture
async def tight_gateway(shared_nats: Any, consul_agent: Any) -> AsyncIterator[RunningGateway]:
    # Small enough to overflow soon, large enough for the gateway's history pages
    # (up to 1 MiB each, sent whole while the queue is up to half full).
    settings = gateway_settings(
        shared_nats.url,
        consul_agent.http_url,
        send_queue_frames=512,
        send_queue_bytes=3 << 20,
        slow_consumer_grace=0.5,
        # Bursts of 100 pipelined publishes; refusals (retried later) would reorder them.
        command_rate=0,
    )
    async with running_gateway(settings) as gw:
        yield gw


def open_connections(gw: RunningGateway) -> float:
    value = gw.deps.metrics.registry.get_sample_value("haws_gateway_connections")
    return value or 0.0


async def test_slow_application_loses_nothing_through_4008_and_resume(
    tight_gateway: RunningGateway, make_client: MakeClient, topic: str
) -> None:
    subscriber = make_client([tight_gateway.url], discover=False, queue_size=8)
    await subscriber.connect()
    stream = subscriber.subscription(topic)
    await subscriber.subscribe(topic)
    publisher = make_client([tight_gateway.url], discover=False)
    await publisher.connect()

    # The application reads nothing while the socket, then the gateway's queue fill,
    # until the gateway cuts the subscriber off (it cannot come back before it reads).
    assert open_connections(tight_gateway) == 2
    acked: list[int] = []
    while open_connections(tight_gateway) == 2:
        assert len(acked) < MAX_MESSAGES, "the gateway never closed the slow subscriber"
        start = len(acked)
        acks = await asyncio.gather(
            *(publisher.publish(topic, [n, PAYLOAD]) for n in range(start, start + BATCH))
        )
        acked.extend(a.seq for a in acks)

    got = await take(stream, len(acked), timeout=20)
    assert [m.seq for m in got] == sorted(acked)
    assert [m.data[0] for m in got] == list(range(len(acked)))
    stats = subscriber.stats
    assert stats.reconnects >= 1
    assert stats.gaps == 0
