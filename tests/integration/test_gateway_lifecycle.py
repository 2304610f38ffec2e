"""Node lifecycle: SIGTERM drain, readiness across a NATS outage, discovery."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from haws.cluster import Gateway
from haws.common import names
from haws.common.discovery import close_consul, consul_client, passing_instances
from tests.integration.conftest import Connect
from tests.support.gateway_runner import RunningGateway, gateway_settings, running_gateway
from tests.support.waiting import eventually
from tests.support.ws_client import assert_chain

pytestmark = pytest.mark.integration


async def passing_nodes(consul_http: str) -> set[str]:
    client = consul_client(consul_http)
    try:
        found = await passing_instances(client, names.GATEWAY_SERVICE, 2.0)
    finally:
        await close_consul(client)
    return {i.service_id for i in found}


async def http_status(url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status, await resp.json(content_type=None)


async def test_sigterm_deregisters_then_drains_every_client_with_reconnect_and_4000(
    shared_nats: Any, consul_agent: Any, connect: Connect, tmp_path: Path, topic: str
) -> None:
    name = f"drain-{uuid.uuid4().hex[:6]}"
    node = Gateway(
        tmp_path,
        name=name,
        nats_url=shared_nats.url,
        consul_http=consul_agent.http_url,
        extra_args=["--drain-period", "1", "--drain-timeout", "4", "--consul-ttl", "2"],
    )
    await asyncio.to_thread(node.start)
    try:
        clients = [await connect(node.ws_url) for _ in range(6)]
        for client in clients:
            await client.sub(topic)
        assert name in await passing_nodes(consul_agent.http_url)

        loop = asyncio.get_running_loop()
        started = loop.time()
        node.process.signal(signal.SIGTERM)

        first = await clients[0].recv("reconnect", timeout=5)
        assert first["reason"] == "drain"
        assert first["delay"] >= 0
        # Deregistered before the first client was asked to move.
        assert name not in await passing_nodes(consul_agent.http_url)
        for client in clients[1:]:
            frame = await client.recv("reconnect", timeout=5)
            assert frame["reason"] == "drain"
        for client in clients:
            assert await client.wait_closed(timeout=5) == 4000
        assert await asyncio.to_thread(node.process.wait, 6.0) == 0
        assert loop.time() - started < 4 + 1.0
    finally:
        await asyncio.to_thread(node.stop)


@pytest.fixture
async def own_nats_gateway(nats_server: Any, consul_agent: Any) -> AsyncIterator[RunningGateway]:
    async with running_gateway(gateway_settings(nats_server.url, consul_agent.http_url)) as gw:
        yield gw


async def test_ready_follows_nats_and_nothing_acked_is_lost_across_the_outage(
    own_nats_gateway: RunningGateway, nats_server: Any, connect: Connect, topic: str
) -> None:
    gw = own_nats_gateway
    assert (await http_status(f"{gw.http}/ready"))[0] == 200
    subscriber = await connect(gw.url)
    await subscriber.sub(topic)
    publisher = await connect(gw.url)
    acked = [(await publisher.pub(topic, n, mid=f"m{n}"))["seq"] for n in range(5)]

    await asyncio.to_thread(nats_server.kill)

    async def not_ready() -> bool:
        status, body = await http_status(f"{gw.http}/ready")
        return status == 503 and body["reason"] == "nats disconnected"

    await eventually(not_ready, timeout=10, message="/ready 503")
    during = await publisher.pub(topic, "during", mid="during")
    assert during["op"] == "error"
    assert during["code"] == "unavailable"

    await asyncio.to_thread(nats_server.start)

    async def ready() -> bool:
        return (await http_status(f"{gw.http}/ready"))[0] == 200

    await eventually(ready, timeout=20, message="/ready 200 again")
    # Retry until stored, as a client does with the same mid.
    for n in range(5, 10):
        for _ in range(50):
            reply = await publisher.pub(topic, n, mid=f"m{n}")
            if reply["op"] == "ack":
                acked.append(reply["seq"])
                break
            await asyncio.sleep(0.1)
    assert len(acked) == 10

    msgs = await subscriber.wait_msgs(topic, 10, timeout=20)
    assert [m["seq"] for m in msgs] == acked
    assert [m["data"] for m in msgs] == list(range(10))
    assert_chain(msgs, first_prev=0)


async def test_gateways_lists_the_passing_nodes_with_their_urls(
    gateway: RunningGateway, gateway2: RunningGateway, connect: Connect
) -> None:
    await connect(gateway.url)

    async def both_listed_with_counts() -> bool:
        status, body = await http_status(f"{gateway2.http}/v1/gateways")
        by_node = {g["node"]: g for g in body} if status == 200 else {}
        mine = by_node.get(gateway.deps.node)
        return (
            mine is not None
            and gateway2.deps.node in by_node
            and mine["url"] == gateway.url
            and mine["connections"] == 1
        )

    await eventually(both_listed_with_counts, timeout=10, message="both gateways listed")


async def test_health_and_metrics(gateway: RunningGateway, connect: Connect, topic: str) -> None:
    client = await connect(gateway.url)
    await client.pub(topic, 1)
    assert (await http_status(f"{gateway.http}/health"))[0] == 200
    async with aiohttp.ClientSession() as session, session.get(f"{gateway.http}/metrics") as resp:
        text = await resp.text()
    assert "haws_gateway_connections 1.0" in text
    assert 'haws_gateway_published_total{dup="false"} 1.0' in text


async def test_metrics_count_every_frame_by_op_and_the_invalid_ones(
    gateway: RunningGateway, connect: Connect, topic: str
) -> None:
    """The counters are looked up once per label and reused: the second frame of an
    op and the second invalid frame must count as much as the first."""

    async def scrape() -> str:
        async with aiohttp.ClientSession() as s, s.get(f"{gateway.http}/metrics") as resp:
            return await resp.text()

    def value(text: str, sample: str) -> float:
        lines = [line for line in text.splitlines() if line.startswith(sample + " ")]
        return float(lines[0].split()[-1]) if lines else 0.0

    pubs, bad = (
        'haws_gateway_frames_in_total{op="pub"}',
        'haws_gateway_frames_in_total{op="invalid"}',
    )
    before = await scrape()
    client = await connect(gateway.url)
    for n in range(2):
        assert (await client.pub(topic, n))["op"] == "ack"
    for _ in range(2):
        await client.send({"op": "no-such-op", "id": client.next_id()})
        assert (await client.recv("error"))["code"] == "bad_request"
    after = await scrape()
    assert value(after, pubs) - value(before, pubs) == 2
    assert value(after, bad) - value(before, bad) == 2
    assert (
        value(after, 'haws_gateway_published_total{dup="false"}')
        - value(before, 'haws_gateway_published_total{dup="false"}')
        == 2
    )
