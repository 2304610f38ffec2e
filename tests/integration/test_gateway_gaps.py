"""Core NATS may drop a live message; the gateway must never pass the gap on.

The drop is injected where a lost NATS delivery would show: the topic never
sees the message. Without the gap fill (prev chain) and the quiet-topic check
(stream last seq) these tests fail.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from haws.common.messages import StoredMessage
from tests.integration.conftest import Connect
from tests.support.gateway_runner import RunningGateway, gateway_settings, running_gateway
from tests.support.ws_client import assert_chain

pytestmark = pytest.mark.integration


@pytest.fixture
async def checking_gateway(shared_nats: Any, consul_agent: Any) -> AsyncIterator[RunningGateway]:
    settings = gateway_settings(shared_nats.url, consul_agent.http_url, topic_check_interval=0.3)
    async with running_gateway(settings) as gw:
        yield gw


def drop_live(gw: RunningGateway, topic: str, seqs: set[int]) -> list[int]:
    """Make the topic lose the live deliveries of ``seqs``, as core NATS may."""
    target = gw.deps.hub.topics[topic]
    original = target.advance
    dropped: list[int] = []

    async def lossy(message: StoredMessage) -> None:
        if message.seq in seqs and message.seq not in dropped:
            dropped.append(message.seq)
            return
        await original(message)

    target.advance = lossy  # type: ignore[method-assign]  # the point: this topic loses some
    return dropped


async def test_a_dropped_message_in_the_middle_is_filled_before_the_next(
    checking_gateway: RunningGateway, connect: Connect, topic: str
) -> None:
    client = await connect(checking_gateway.url)
    await client.sub(topic)
    publisher = await connect(checking_gateway.url)
    first = await publisher.pub(topic, 0)
    dropped = drop_live(checking_gateway, topic, {first["seq"] + 1, first["seq"] + 2})
    acks = [first] + [await publisher.pub(topic, n) for n in range(1, 5)]

    msgs = await client.wait_msgs(topic, 5)
    assert dropped == [acks[1]["seq"], acks[2]["seq"]]
    assert [m["seq"] for m in msgs] == [a["seq"] for a in acks]
    assert_chain(msgs, first_prev=0)
    assert checking_gateway.deps.metrics.gap_fills._value.get() >= 1


async def test_a_dropped_last_message_on_a_quiet_topic_still_arrives(
    checking_gateway: RunningGateway, connect: Connect, topic: str
) -> None:
    client = await connect(checking_gateway.url)
    await client.sub(topic)
    publisher = await connect(checking_gateway.url)
    first = await publisher.pub(topic, "a")
    await client.wait_msgs(topic, 1)
    dropped = drop_live(checking_gateway, topic, {first["seq"] + 1})
    last = await publisher.pub(topic, "b")  # nothing follows it on this topic

    msgs = await client.wait_msgs(topic, 2, timeout=5)
    assert dropped == [last["seq"]]
    assert [m["data"] for m in msgs] == ["a", "b"]
    assert_chain(msgs, first_prev=0)
