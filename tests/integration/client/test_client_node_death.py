"""A gateway process killed with SIGKILL, or frozen with SIGSTOP (half-open), while
clients publish and subscribe through it: they fail over and resume, losing nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from haws.client import Client, MessageStream
from haws.cluster import Gateway
from tests.integration.client.conftest import MakeClient, take
from tests.support.gateway_runner import RunningGateway

PUBLISHES = 200
CUT_AFTER = 60
IN_FLIGHT = 20


@pytest.fixture
async def doomed(shared_nats: Any, consul_agent: Any, tmp_path: Path) -> AsyncIterator[Gateway]:
    """A gateway in its own process, so it can really die or freeze."""
    node = Gateway(
        tmp_path,
        name=f"doomed-{uuid.uuid4().hex[:6]}",
        nats_url=shared_nats.url,
        consul_http=consul_agent.http_url,
        extra_args=["--consul-ttl", "2"],
    )
    await asyncio.to_thread(node.start)
    try:
        yield node
    finally:
        node.resume()  # a frozen node must wake up to be stopped
        await asyncio.to_thread(node.stop, 5.0)


async def publish_through(
    publisher: Client, topic: str, cut: Callable[[], Awaitable[None]]
) -> list[int]:
    """Publish PUBLISHES messages one after another, with ``IN_FLIGHT`` more
    published concurrently while ``cut()`` breaks the node; returns every acked seq."""
    acked: list[int] = []
    for n in range(PUBLISHES):
        if n == CUT_AFTER:
            in_flight = [
                asyncio.create_task(publisher.publish(topic, f"in flight {i}"))
                for i in range(IN_FLIGHT)
            ]
            await cut()
            async with asyncio.timeout(15):
                acked.extend(ack.seq for ack in await asyncio.gather(*in_flight))
        async with asyncio.timeout(15):
            acked.append((await publisher.publish(topic, n)).seq)
    return acked


async def connected_pair(
    make_client: MakeClient, urls: list[str], topic: str, **settings: Any
) -> tuple[Client, Client, MessageStream]:
    subscriber = make_client(urls, **settings)
    publisher = make_client(urls, **settings)
    await subscriber.connect()
    await publisher.connect()
    stream = subscriber.subscription(topic)
    await subscriber.subscribe(topic)
    return subscriber, publisher, stream


async def test_sigkill_of_the_node_loses_and_duplicates_nothing(
    doomed: Gateway, gateway2: RunningGateway, make_client: MakeClient, topic: str
) -> None:
    subscriber, publisher, stream = await connected_pair(
        make_client, [doomed.ws_url, gateway2.url], topic
    )
    assert subscriber.url == publisher.url == doomed.ws_url

    async def kill() -> None:
        await asyncio.to_thread(doomed.kill)

    acked = await publish_through(publisher, topic, kill)

    assert len(set(acked)) == len(acked) == PUBLISHES + IN_FLIGHT
    assert [m.seq for m in await take(stream, len(acked))] == sorted(acked)
    assert subscriber.url == publisher.url == gateway2.url
    assert subscriber.stats.gaps == 0
    assert subscriber.stats.resumes == 1


async def test_a_frozen_node_is_detected_as_half_open_and_left(
    doomed: Gateway, gateway2: RunningGateway, make_client: MakeClient, topic: str
) -> None:
    settings = {"ping_interval": 0.5, "ping_timeout": 0.5}
    subscriber, publisher, stream = await connected_pair(
        make_client, [doomed.ws_url, gateway2.url], topic, **settings
    )
    loop = asyncio.get_running_loop()
    frozen_at = 0.0

    async def freeze() -> None:
        nonlocal frozen_at
        frozen_at = loop.time()
        doomed.pause()  # SIGSTOP: sockets stay open, nothing answers

    acked = await publish_through(publisher, topic, freeze)
    # Detection (interval + timeout) + backoff (cap 0.5 s) + connect and resume.
    assert loop.time() - frozen_at < 0.5 + 0.5 + 0.5 + 2.0

    assert len(set(acked)) == len(acked) == PUBLISHES + IN_FLIGHT
    assert [m.seq for m in await take(stream, len(acked))] == sorted(acked)
    assert subscriber.url == publisher.url == gateway2.url
    assert subscriber.stats.gaps == 0
