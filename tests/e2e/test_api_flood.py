"""A flood on the server API leaves WebSocket clients' latency as it was.

The API and the gateway are separate processes (as deployed); the flood comes
from a thread of its own, so the probe's event loop only measures. The API's
rate limit answers the excess with 429 instead of passing it to JetStream.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from haws.cluster import Gateway
from haws.cluster.services import ApiService
from tests.support.ws_client import WsClient

FLOOD = 4000
"""API requests the flood sends at most (bounded in time too)."""
FLOOD_SECONDS = 6.0
CONCURRENCY = 32
RATE, BURST = 200, 200
KEY = "flood-test-key"


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[int(0.99 * (len(ordered) - 1))]


@pytest.fixture
async def cluster(
    shared_nats: Any, consul_agent: Any, tmp_path: Path
) -> AsyncIterator[tuple[Gateway, ApiService]]:
    suffix = uuid.uuid4().hex[:6]
    gateway = Gateway(
        tmp_path, name=f"gw-{suffix}", nats_url=shared_nats.url, consul_http=consul_agent.http_url
    )
    api = ApiService(
        tmp_path,
        name=f"api-{suffix}",
        nats_url=shared_nats.url,
        consul_http=consul_agent.http_url,
        key=KEY,
    )
    api.args += ["--rate", str(RATE), "--burst", str(BURST)]
    await asyncio.gather(asyncio.to_thread(gateway.start), asyncio.to_thread(api.start))
    try:
        yield gateway, api
    finally:
        await asyncio.gather(asyncio.to_thread(gateway.stop, 5), asyncio.to_thread(api.stop, 5))


def flood(url: str, topic: str, statuses: Counter[int], over: threading.Event) -> float:
    """Runs in its own thread and event loop; returns how long it flooded."""

    async def run() -> float:
        started = time.monotonic()
        sent = 0
        headers = {"Authorization": f"Bearer {KEY}"}
        async with aiohttp.ClientSession(headers=headers) as http:

            async def worker() -> None:
                nonlocal sent
                while sent < FLOOD and time.monotonic() - started < FLOOD_SECONDS:
                    sent += 1
                    body = {"topic": topic, "data": sent}
                    async with http.post(f"{url}/publish", json=body) as response:
                        statuses[response.status] += 1

            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return time.monotonic() - started

    try:
        return asyncio.run(run())
    finally:
        over.set()


async def probe(client: WsClient, topic: str, until: threading.Event, limit: float) -> list[float]:
    """Round trips of pub -> msg on the bystander's own topic, every ~15 ms."""
    rtts: list[float] = []
    deadline = time.monotonic() + limit
    n = 0
    while not until.is_set() and time.monotonic() < deadline and len(rtts) < 2000:
        n += 1
        sent = time.perf_counter()
        await client.pub(topic, n)
        await client.wait_msgs(topic, n, timeout=5)
        rtts.append(time.perf_counter() - sent)
        await asyncio.sleep(0.015)  # a paced probe, not a load
    return rtts


async def test_api_flood_leaves_websocket_latency_as_it_was(
    cluster: tuple[Gateway, ApiService],
) -> None:
    gateway, api = cluster
    own = f"probe.{uuid.uuid4().hex[:8]}"
    flooded = f"flood.{uuid.uuid4().hex[:8]}"
    client = await WsClient.connect(gateway.ws_url)
    try:
        await client.hello()
        await client.sub(own)
        calm = threading.Event()
        baseline_task = asyncio.create_task(probe(client, own, calm, 1.5))
        baseline = await baseline_task
        statuses: Counter[int] = Counter()
        over = threading.Event()
        flooding = asyncio.create_task(asyncio.to_thread(flood, api.url, flooded, statuses, over))
        during = await probe(client, own, over, FLOOD_SECONDS + 2)
        elapsed = await flooding
    finally:
        await client.close()
    print(
        f"\nbystander pub->msg p99: calm {p99(baseline) * 1000:.1f} ms, during API flood "
        f"{p99(during) * 1000:.1f} ms; flood {sum(statuses.values())} requests in "
        f"{elapsed:.1f} s: {dict(statuses)}"
    )
    assert len(during) >= 20
    assert len(baseline) >= 20
    assert set(statuses) <= {200, 429}, statuses
    assert statuses[429] > 0, "the flood never reached the API's rate limit"
    assert statuses[200] <= BURST + RATE * elapsed + 50
    assert p99(during) < max(0.25, 3 * p99(baseline)), "the API flood slowed WebSocket clients"
