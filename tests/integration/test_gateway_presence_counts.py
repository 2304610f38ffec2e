"""Counts-only presence through a real presence replica and real gateways: a topic
pushed past the threshold under churn sends counts that converge to the truth and
no join/leave; ``presence`` answers counts and a bounded sample; below the lower
mark the topic goes back to join/leave with a full member list."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from haws.client import Client, PresenceCounts
from haws.presence.node import PresenceNode, run_presence
from tests.integration.conftest import Connect
from tests.integration.presence.presence_support import presence_settings
from tests.support.gateway_runner import RunningGateway
from tests.support.service_runner import running_service
from tests.support.waiting import eventually
from tests.support.ws_client import WsClient

pytestmark = pytest.mark.integration

COUNTS_FROM = 20
SAMPLE = 5
INTERVAL = 0.2


@pytest.fixture
async def presence(shared_nats: Any) -> AsyncIterator[PresenceNode]:
    settings = presence_settings(
        shared_nats.url,
        grace=1.5,
        presence_counts_from=COUNTS_FROM,
        presence_counts_interval=INTERVAL,
        presence_sample=SAMPLE,
    )
    async with running_service(run_presence, settings) as service:
        yield service.value


@pytest.fixture
async def stack() -> AsyncIterator[contextlib.AsyncExitStack]:
    """Closes what the test opened, however it ends."""
    async with contextlib.AsyncExitStack() as opened:
        yield opened


def counts(client: WsClient, topic: str) -> list[dict[str, Any]]:
    return [f for f in client.others if f.get("op") == "counts" and f["topic"] == topic]


def per_member_after_first_counts(client: WsClient, topic: str) -> list[dict[str, Any]]:
    """join/leave of ``topic`` that arrived after the topic went counts-only."""
    frames = [f for f in client.others if f.get("topic") == topic]
    first = next(i for i, f in enumerate(frames) if f.get("op") == "counts")
    return [f for f in frames[first:] if f.get("op") in ("join", "leave")]


async def test_a_large_topic_sends_converging_counts_and_a_bounded_sample(
    presence: PresenceNode,
    gateway: RunningGateway,
    gateway2: RunningGateway,
    connect: Connect,
    topic: str,
    stack: contextlib.AsyncExitStack,
) -> None:
    watcher = await connect(gateway.url)
    await watcher.sub(topic, presence=True)
    sdk_counts: list[PresenceCounts] = []
    sdk = await stack.enter_async_context(
        Client([gateway2.url], discover=False, on_counts=sdk_counts.append)
    )
    await sdk.subscribe(topic, presence=True)  # the Python SDK exposes the counts
    sdk_session = sdk.session
    urls = [gateway.url, gateway2.url]

    async def member(i: int) -> WsClient:
        client = await connect(urls[i % 2])
        await client.sub(topic, presence=True)
        return client

    # Churn: 30 join at once, then 10 of them leave while 8 more join, all concurrently.
    started = asyncio.get_running_loop().time()
    first = await asyncio.gather(*(member(i) for i in range(30)))
    leaving, staying = first[:10], first[10:]
    joined = await asyncio.gather(
        *(member(i) for i in range(30, 38)),
        *(c.request({"op": "unsub", "topic": topic}) for c in leaving),
    )
    newcomers = [c for c in joined if isinstance(c, WsClient)]
    assert sdk_session is not None
    truth = {watcher.session, sdk_session} | {c.session for c in staying + newcomers}
    assert len(truth) == 2 + 20 + 8

    await eventually(
        lambda: bool(counts(watcher, topic)) and counts(watcher, topic)[-1]["count"] == len(truth),
        message="the watcher's counts converge to the members",
    )
    elapsed = asyncio.get_running_loop().time() - started
    # Coalesced: the switch's counts plus at most one per interval, not one per change
    # (per member, the 30 changes after the switch would each have been a frame).
    assert len(counts(watcher, topic)) <= 2 + elapsed / INTERVAL, (elapsed, counts(watcher, topic))
    last = counts(watcher, topic)[-1]
    assert last["mode"] == "counts"
    assert last["users"] == 0  # anonymous sessions carry no user id
    assert per_member_after_first_counts(watcher, topic) == []
    await eventually(
        lambda: bool(sdk_counts) and sdk_counts[-1].count == len(truth),
        message="the Python SDK's on_counts sees the same totals",
    )

    reply = await watcher.request({"op": "presence", "topic": topic})
    assert reply["sample"] is True
    assert reply["count"] == len(truth)
    assert 0 < len(reply["members"]) <= SAMPLE
    assert {m["session"] for m in reply["members"]} <= truth

    await sdk.unsubscribe(topic)  # a leave at once (a close would wait out the grace)
    await sdk.close()
    # Below 90 % of the threshold: back to per-member mode, with the whole list.
    for client in (staying + newcomers)[:12]:
        await client.request({"op": "unsub", "topic": topic})
    remaining = truth - {c.session for c in (staying + newcomers)[:12]} - {sdk_session}
    await eventually(
        lambda: counts(watcher, topic)[-1].get("mode") == "members",
        message="the topic goes back to per-member mode",
    )
    back = counts(watcher, topic)[-1]
    assert {m["session"] for m in back["members"]} == remaining
    assert back["count"] == len(remaining)

    late = await member(99)
    await eventually(
        lambda: {"op": "join", "topic": topic, "who": {"session": late.session}} in watcher.others,
        message="joins are sent again",
    )
    reply = await watcher.request({"op": "presence", "topic": topic})
    assert "sample" not in reply
    assert {m["session"] for m in reply["members"]} == remaining | {late.session}
