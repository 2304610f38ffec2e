"""The replay service: pages of history over NATS, shared reads, bounded replies,
and the gateway's use of it with a direct-read fallback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest

from haws.common import names
from haws.common.replay_protocol import ReplayRequest, decode_page
from haws.common.stream_reader import MAX_BATCH
from tests.integration.conftest import Connect
from tests.support.gateway_runner import RunningGateway
from tests.support.replay_runner import replay_settings, running_replay
from tests.support.service_runner import RunningService
from tests.support.ws_client import assert_chain

pytestmark = pytest.mark.integration


@pytest.fixture
async def replay(shared_nats: Any) -> AsyncIterator[RunningService[Any]]:
    async with running_replay(replay_settings(shared_nats.url)) as service:
        yield service


async def publish_many(url: str, topic: str, count: int) -> list[int]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        futures = [
            await js.publish_async(names.topic_subject(topic), b"\xa1x") for _ in range(count)
        ]
        acks = await asyncio.gather(*futures)
    finally:
        await nc.close()
    return [a.seq for a in acks]


async def request(url: str, req: ReplayRequest) -> Any:
    nc = await nats.connect(url)
    try:
        reply = await nc.request(names.REPLAY_SUBJECT, req.encode(), timeout=5)
    finally:
        await nc.close()
    return decode_page(req.topic, reply.data)


async def test_pages_are_bounded_and_chain_through_a_long_history(
    replay: RunningService[Any], shared_nats: Any, topic: str
) -> None:
    seqs = await publish_many(shared_nats.url, topic, 2500)
    got: list[int] = []
    after = 0
    pages = 0
    while True:
        page = await request(shared_nats.url, ReplayRequest(topic, after, limit=10_000))
        pages += 1
        assert len(page.messages) <= MAX_BATCH
        assert page.gap is None
        prev = after
        for m in page.messages:
            assert m.prev == prev
            prev = m.seq
        got += [m.seq for m in page.messages]
        if not page.more:
            break
        after = page.messages[-1].seq
    assert got == seqs
    assert pages == 3


async def test_identical_concurrent_requests_share_one_read(
    replay: RunningService[Any], shared_nats: Any, topic: str
) -> None:
    await publish_many(shared_nats.url, topic, 1000)
    nc = await nats.connect(shared_nats.url)
    try:
        req = ReplayRequest(topic, 0, limit=1000).encode()
        replies = await asyncio.gather(
            *[nc.request(names.REPLAY_SUBJECT, req, timeout=5) for _ in range(50)]
        )
    finally:
        await nc.close()
    pages = [decode_page(topic, r.data) for r in replies]
    assert all(len(p.messages) == 1000 for p in pages)
    metrics = replay.value.metrics
    assert metrics.coalesced._value.get() > 0
    assert metrics.requests.labels("ok")._value.get() == 50


async def test_gateway_reads_history_through_the_replay_service(
    replay: RunningService[Any], gateway: RunningGateway, connect: Connect, topic: str
) -> None:
    publisher = await connect(gateway.url)
    acks = [await publisher.pub(topic, n) for n in range(10)]
    client = await connect(gateway.url)
    await client.sub(topic, since=0)
    await client.recv("recovered")
    assert [m["seq"] for m in client.msgs[topic]] == [a["seq"] for a in acks]
    assert_chain(client.msgs[topic], first_prev=0)
    metrics = gateway.deps.metrics
    assert metrics.replay_reads._value.get() >= 1
    assert sum(s.get() for s in [metrics.replay_fallbacks.labels("NoRespondersError")._value]) == 0


async def test_gateway_falls_back_to_direct_reads_without_replay(
    gateway: RunningGateway, connect: Connect, topic: str
) -> None:
    publisher = await connect(gateway.url)
    acks = [await publisher.pub(topic, n) for n in range(10)]
    client = await connect(gateway.url)
    await client.sub(topic, since=acks[4]["seq"])
    await client.recv("recovered")
    assert [m["data"] for m in client.msgs[topic]] == [5, 6, 7, 8, 9]
    assert gateway.deps.metrics.replay_fallbacks.labels("NoRespondersError")._value.get() >= 1
