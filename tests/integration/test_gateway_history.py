"""sub with since: history after the cursor, then live, with no gap and no duplicate;
a cursor older than retention gets recovered complete:false with the exact range."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.integration.conftest import Connect
from tests.support.gateway_runner import RunningGateway, gateway_settings, running_gateway
from tests.support.ws_client import assert_chain

pytestmark = pytest.mark.integration


async def test_since_zero_replays_all_history_then_goes_live(
    gateway: RunningGateway, connect: Connect, topic: str
) -> None:
    publisher = await connect(gateway.url)
    acks = [await publisher.pub(topic, n) for n in range(5)]
    client = await connect(gateway.url)
    ok = await client.sub(topic, since=0)
    assert ok["seq"] == acks[-1]["seq"]
    assert (await client.recv("recovered")) == {"op": "recovered", "topic": topic, "complete": True}
    live = await publisher.pub(topic, "live")
    msgs = await client.wait_msgs(topic, 6)
    assert [m["data"] for m in msgs] == [0, 1, 2, 3, 4, "live"]
    assert msgs[-1]["seq"] == live["seq"]
    assert_chain(msgs, first_prev=0)


async def test_since_a_seq_replays_only_what_follows_it(
    gateway: RunningGateway, connect: Connect, topic: str
) -> None:
    publisher = await connect(gateway.url)
    acks = [await publisher.pub(topic, n) for n in range(6)]
    client = await connect(gateway.url)
    await client.sub(topic, since=acks[2]["seq"])
    await client.recv("recovered")
    msgs = client.msgs[topic]
    assert [m["data"] for m in msgs] == [3, 4, 5]
    assert_chain(msgs, first_prev=acks[2]["seq"])


async def test_history_and_a_concurrent_live_stream_join_without_gap_or_duplicate(
    gateway: RunningGateway, gateway2: RunningGateway, connect: Connect, topic: str
) -> None:
    publisher = await connect(gateway2.url)
    for n in range(200):
        await publisher.pub(topic, n)

    async def keep_publishing() -> None:
        for n in range(200, 400):
            await publisher.pub(topic, n)

    stream = asyncio.create_task(keep_publishing())
    client = await connect(gateway.url)
    await client.sub(topic, since=0)
    await stream
    msgs = await client.wait_msgs(topic, 400)
    assert [m["data"] for m in msgs] == list(range(400))
    assert_chain(msgs, first_prev=0)


@pytest.fixture
async def short_retention_gateway(
    nats_server: Any, consul_agent: Any
) -> AsyncIterator[RunningGateway]:
    settings = gateway_settings(
        nats_server.url, consul_agent.http_url, stream_max_msgs_per_subject=5
    )
    async with running_gateway(settings) as gw:
        yield gw


async def test_since_older_than_retention_reports_the_exact_missing_range(
    short_retention_gateway: RunningGateway, connect: Connect, topic: str
) -> None:
    publisher = await connect(short_retention_gateway.url)
    acks = [await publisher.pub(topic, n) for n in range(12)]
    seqs = [a["seq"] for a in acks]
    client = await connect(short_retention_gateway.url)
    await client.sub(topic, since=seqs[1])

    recovered = await client.recv("recovered")
    # Retention keeps the last 5 (7..11): 2..6 are gone; the client had 0 and 1.
    assert recovered == {
        "op": "recovered",
        "topic": topic,
        "complete": False,
        "from": seqs[1] + 1,
        "to": seqs[7] - 1,
    }
    msgs = client.msgs[topic]
    assert [m["data"] for m in msgs] == [7, 8, 9, 10, 11]
    assert_chain(msgs, first_prev=seqs[1])
    # Then the rest goes on live.
    await publisher.pub(topic, 12)
    assert (await client.wait_msgs(topic, 6))[-1]["data"] == 12


async def test_resume_cursors_in_hello_restore_the_subscriptions(
    gateway: RunningGateway, gateway2: RunningGateway, connect: Connect, topic: str
) -> None:
    first = await connect(gateway.url)
    await first.sub(topic)
    publisher = await connect(gateway2.url)
    a = await publisher.pub(topic, "a")
    session = (await first.request({"op": "ping"})) and first.others[0]["session"]
    await first.wait_msgs(topic, 1)
    await first.close()
    await publisher.pub(topic, "b")
    await publisher.pub(topic, "c")

    again = await connect(gateway2.url, session=session, cursors={topic: a["seq"]})
    await again.recv("recovered")
    await publisher.pub(topic, "d")
    msgs = await again.wait_msgs(topic, 3)
    assert [m["data"] for m in msgs] == ["b", "c", "d"]
    assert_chain(msgs, first_prev=a["seq"])
