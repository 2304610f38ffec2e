"""``HAWS_EVENTS`` shows a session's life in order: connect, join, leave,
disconnect with its reason; a resume with a higher epoch; unique ids."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client as NatsClient

from haws.presence.node import PresenceNode
from tests.integration.conftest import Connect
from tests.support.api_caller import ApiCaller
from tests.support.event_log import EventLog
from tests.support.gateway_runner import RunningGateway
from tests.support.waiting import eventually


@pytest.fixture
async def events(nc: NatsClient, presence: PresenceNode) -> AsyncIterator[EventLog]:
    del presence
    async with EventLog(nc) as log:
        yield log


async def test_a_session_s_events_come_in_order_with_epochs(
    events: EventLog,
    gateway: RunningGateway,
    gateway2: RunningGateway,
    connect: Connect,
    topic: str,
) -> None:
    client = await connect(gateway.url)
    session = client.others[0]["session"]
    await client.sub(topic, presence=True)
    await client.request({"op": "unsub", "topic": topic})
    await client.close()
    await eventually(
        lambda: len(events.of(session)) >= 4, message="connect, join, leave, disconnect"
    )
    assert events.kinds(session) == [
        "connect",
        f"join:{topic}",
        f"leave:{topic}",
        "disconnect:close",
    ]
    first = events.of(session)
    assert {e.node for e in first} == {gateway.deps.node}
    assert {e.epoch for e in first} == {1}

    back = await connect(gateway2.url, session=session)
    await back.sub(topic, presence=True)
    await eventually(lambda: len(events.of(session)) >= 6, message="resume, join")
    resume = events.of(session)[4]
    assert (resume.type, resume.epoch, resume.node) == ("resume", 2, gateway2.deps.node)
    assert resume.previous_node == gateway.deps.node
    ids = [e.id for e in events.of(session)]
    assert len(ids) == len(set(ids))


async def test_takeover_and_server_disconnect_carry_their_reasons(
    events: EventLog, http: ApiCaller, gateway: RunningGateway, connect: Connect
) -> None:
    old = await connect(gateway.url)
    session = old.others[0]["session"]
    await connect(gateway.url, session=session)  # a newer hello takes the session over
    assert await old.wait_closed() == 4009
    await eventually(lambda: len(events.of(session)) >= 3, message="connect, takeover, resume")
    kinds = events.kinds(session)
    assert kinds[:3] == ["connect", "disconnect:takeover", "resume"]
    takeover, resume = events.of(session)[1:3]
    assert takeover.epoch < resume.epoch

    await http.ok("disconnect", {"session": session})
    await eventually(
        lambda: "disconnect:server" in events.kinds(session),
        timeout=20,
        message="server disconnect",
    )
    assert events.kinds(session) == [
        "connect",
        "disconnect:takeover",
        "resume",
        "disconnect:server",
    ]
