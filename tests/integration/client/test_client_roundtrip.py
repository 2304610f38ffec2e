"""The SDK against a real gateway: publish, subscribe, history, idempotent publish."""

from __future__ import annotations

import pytest

from haws.client import State
from haws.protocol.errors import BadRequest, TooLarge
from tests.integration.client.conftest import MakeClient, take
from tests.support.gateway_runner import RunningGateway


@pytest.mark.parametrize("codec", ["json", "msgpack"])
async def test_publish_subscribe_round_trip(
    gateway: RunningGateway, make_client: MakeClient, topic: str, codec: str
) -> None:
    states: list[State] = []
    sub = make_client([gateway.url], codec=codec, on_state=states.append)
    await sub.connect()
    assert sub.state is State.CONNECTED
    assert sub.node == gateway.deps.node
    await sub.subscribe(topic)
    pub = make_client([gateway.url], codec=codec)
    await pub.connect()

    acks = [await pub.publish(topic, {"n": n}) for n in range(5)]

    got = await take(sub.messages(), 5)
    assert [m.seq for m in got] == [a.seq for a in acks]
    assert [m.data for m in got] == [{"n": n} for n in range(5)]
    assert all(m.topic == topic and m.mid for m in got)
    assert not any(a.dup for a in acks)
    assert states == [State.CONNECTING, State.CONNECTED]
    assert sub.stats.delivered == 5
    assert pub.stats.acked == 5


async def test_same_mid_is_stored_once_and_since_replays_history(
    gateway: RunningGateway, make_client: MakeClient, topic: str
) -> None:
    client = make_client([gateway.url])
    await client.connect()
    first = await client.publish(topic, "a", mid="fixed-mid")
    again = await client.publish(topic, "a", mid="fixed-mid")
    second = await client.publish(topic, "b")
    assert (again.seq, again.dup) == (first.seq, True)

    history = client.subscription(topic)
    await client.subscribe(topic, since=0)
    got = await take(history, 2)
    assert [(m.seq, m.data) for m in got] == [(first.seq, "a"), (second.seq, "b")]
    assert got[0].prev == 0
    assert got[1].prev == first.seq
    assert client.stats.gaps == 0


async def test_bad_topic_raises_before_anything_is_sent(
    gateway: RunningGateway, make_client: MakeClient
) -> None:
    client = make_client([gateway.url])
    await client.connect()
    with pytest.raises(BadRequest):
        await client.publish("no spaces allowed", 1)
    with pytest.raises(BadRequest):
        await client.subscribe("a..b")
    assert client.stats.sent == 0


async def test_a_frame_over_the_gateway_limit_fails_once_instead_of_looping(
    gateway: RunningGateway, make_client: MakeClient, topic: str
) -> None:
    # The client believes frames up to 1 MiB pass; the gateway closes 1009 above 64 KiB.
    client = make_client([gateway.url], discover=False, max_frame_bytes=1 << 20)
    await client.connect()
    with pytest.raises(TooLarge):
        await client.publish(topic, "x" * 100_000)
    ack = await client.publish(topic, "small")
    assert ack.seq > 0
    assert client.stats.reconnects == 1
