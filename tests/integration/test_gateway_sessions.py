"""Sessions: resumable from any node for the TTL, the client's cursors first."""

from __future__ import annotations

import pytest

from tests.integration.conftest import Connect
from tests.support.gateway_runner import RunningGateway
from tests.support.waiting import eventually
from tests.support.ws_client import assert_chain

pytestmark = pytest.mark.integration


async def test_resume_with_the_session_alone_restores_subscriptions_on_another_node(
    gateway: RunningGateway, gateway2: RunningGateway, connect: Connect, topic: str
) -> None:
    publisher = await connect(gateway2.url)
    first = await connect(gateway.url)
    welcome = first.others[0]
    assert welcome["resumed"] is False
    await first.sub(topic)
    await first.sub(f"{topic}.quiet", presence=False)
    seen = await publisher.pub(topic, "seen")
    await first.wait_msgs(topic, 1)
    await first.close()
    await eventually(lambda: not gateway.deps.hub.connections, message="first closed")
    missed = [await publisher.pub(topic, n) for n in range(3)]

    again = await connect(gateway2.url, session=welcome["session"])
    assert again.others[0]["resumed"] is True
    recovered = {(await again.recv("recovered"))["topic"] for _ in range(2)}
    assert recovered == {topic, f"{topic}.quiet"}
    msgs = await again.wait_msgs(topic, 3)
    assert [m["seq"] for m in msgs] == [a["seq"] for a in missed]
    assert_chain(msgs, first_prev=seen["seq"])


async def test_client_cursors_take_precedence_over_the_record(
    gateway: RunningGateway, gateway2: RunningGateway, connect: Connect, topic: str
) -> None:
    publisher = await connect(gateway2.url)
    first = await connect(gateway.url)
    session = first.others[0]["session"]
    await first.sub(topic)
    acks = [await publisher.pub(topic, n) for n in range(4)]
    await first.wait_msgs(topic, 4)
    await first.close()
    await eventually(lambda: not gateway.deps.hub.connections, message="first closed")

    # The client only processed the first message before it went away.
    again = await connect(gateway2.url, session=session, cursors={topic: acks[0]["seq"]})
    await again.recv("recovered")
    assert [m["data"] for m in again.msgs[topic]] == [1, 2, 3]


async def test_unknown_session_starts_fresh_and_keeps_its_id(
    gateway: RunningGateway, connect: Connect
) -> None:
    client = await connect(gateway.url, session="never-seen-before")
    welcome = client.others[0]
    assert welcome["session"] == "never-seen-before"
    assert welcome["resumed"] is False
    assert welcome["ttl"] == 3600.0


async def test_session_id_with_bad_characters_is_refused(
    gateway: RunningGateway, connect: Connect
) -> None:
    client = await connect(gateway.url, hello=False)
    await client.send({"op": "hello", "v": 1, "session": "../../etc"})
    assert await client.wait_closed() == 4002
