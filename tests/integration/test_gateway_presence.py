"""Presence through real gateways: join/leave across nodes, no flap on a quick
reconnect, one owner per session (takeover closes 4009), the HTTP view."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import nats
import pytest
from nats.aio.msg import Msg

from haws.common import names
from haws.presence.node import PresenceNode, run_presence
from tests.integration.conftest import Connect
from tests.integration.presence.presence_support import presence_settings
from tests.support.gateway_runner import RunningGateway
from tests.support.service_runner import running_service
from tests.support.waiting import eventually
from tests.support.ws_client import WsClient

pytestmark = pytest.mark.integration


@pytest.fixture
async def presence(shared_nats: Any, request: pytest.FixtureRequest) -> AsyncIterator[PresenceNode]:
    settings = presence_settings(shared_nats.url, grace=getattr(request, "param", 1.5))
    async with running_service(run_presence, settings) as service:
        yield service.value


async def members(client: WsClient, topic: str) -> set[str]:
    reply = await client.request({"op": "presence", "topic": topic})
    assert reply["op"] == "presence", reply
    return {m["session"] for m in reply["members"]}


async def test_join_and_leave_reach_presence_subscribers_on_every_node(
    presence: PresenceNode,
    gateway: RunningGateway,
    gateway2: RunningGateway,
    connect: Connect,
    topic: str,
) -> None:
    alice = await connect(gateway.url)
    await alice.sub(topic, presence=True)
    bob = await connect(gateway2.url)
    await bob.sub(topic, presence=True)
    a, b = alice.session, bob.session

    await eventually(
        lambda: ("join", b) in alice.presence_changes(topic), message="alice sees bob join"
    )
    assert await members(alice, topic) == {a, b}
    assert await members(bob, topic) == {a, b}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{gateway2.http}/v1/presence/{topic}") as resp,
    ):
        body = await resp.json()
    assert {m["session"] for m in body["members"]} == {a, b}
    assert {m["node"] for m in body["members"]} == {gateway.deps.node, gateway2.deps.node}

    await bob.request({"op": "unsub", "topic": topic})
    await eventually(
        lambda: ("leave", b) in alice.presence_changes(topic), message="alice sees bob leave"
    )
    assert await members(alice, topic) == {a}


# A grace far above a resume's time, even on a loaded CI machine: the test is about
# what a resume inside the grace emits, not about how fast a resume is.
@pytest.mark.parametrize("presence", [5.0], indirect=True)
async def test_a_quick_reconnect_on_another_node_emits_no_leave_or_join(
    presence: PresenceNode,
    gateway: RunningGateway,
    gateway2: RunningGateway,
    connect: Connect,
    topic: str,
) -> None:
    watcher = await connect(gateway.url)
    await watcher.sub(topic, presence=True)
    mover = await connect(gateway.url)
    await mover.sub(topic, presence=True)
    sentinel = await connect(gateway.url)
    await sentinel.sub(topic, presence=True)
    m, s = mover.session, sentinel.session
    # Sessions' events travel independently: wait for both joins, in any order.
    await eventually(
        lambda: {("join", m), ("join", s)} <= set(watcher.presence_changes(topic)),
        message="all joined",
    )
    before = watcher.presence_changes(topic)

    async def mover_stored() -> bool:  # written at the node's next flush
        return await gateway.deps.sessions.load(m) is not None

    await eventually(mover_stored, message="the mover's session record stored")

    # Both go away at once; only the mover comes back (on the other node) in the grace.
    await mover.close()
    await sentinel.close()
    back = await connect(gateway2.url, session=m)
    assert back.others[0]["resumed"] is True

    # The sentinel's leave marks the end of the grace period the mover was inside.
    await eventually(lambda: ("leave", s) in watcher.presence_changes(topic), timeout=15)
    after = watcher.presence_changes(topic)[len(before) :]
    assert after == [("leave", s)]
    assert m in await members(watcher, topic)


async def test_a_newer_hello_on_another_node_takes_the_session_over(
    presence: PresenceNode,
    gateway: RunningGateway,
    gateway2: RunningGateway,
    connect: Connect,
    topic: str,
) -> None:
    old = await connect(gateway.url)
    ok = await old.sub(topic)
    session = old.session
    new = await connect(gateway2.url, session=session, cursors={topic: ok["seq"]})
    assert new.session == session

    frame = await old.recv("reconnect", timeout=5)
    assert frame["reason"] == "takeover"
    assert await old.wait_closed() == 4009
    # The newer connection keeps the session and its subscription.
    publisher = await connect(gateway.url)
    await publisher.pub(topic, "only-new")
    assert (await new.wait_msgs(topic, 1))[0]["data"] == "only-new"
    assert old.msgs[topic] == []


async def test_a_newer_hello_on_the_same_node_takes_over_without_presence(
    gateway: RunningGateway, connect: Connect
) -> None:
    old = await connect(gateway.url)
    new = await connect(gateway.url, session=old.session)
    assert new.session == old.session
    assert (await old.recv("reconnect"))["reason"] == "takeover"
    assert await old.wait_closed() == 4009


async def test_presence_query_without_a_presence_service_is_unavailable(
    gateway: RunningGateway, connect: Connect, topic: str
) -> None:
    client = await connect(gateway.url)
    reply = await client.request({"op": "presence", "topic": topic})
    assert (reply["op"], reply["code"]) == ("error", "unavailable")


async def test_without_a_presence_service_hellos_claim_nothing_until_one_answers(
    shared_nats: Any, gateway: RunningGateway, connect: Connect, topic: str
) -> None:
    nc = await nats.connect(shared_nats.url)
    claims: list[bytes] = []

    async def count(msg: Msg) -> None:  # listens without answering
        claims.append(msg.data)

    try:
        await nc.subscribe(names.PRESENCE_CLAIM, cb=count)
        await nc.flush()
        await eventually(lambda: gateway.deps.presence.absent, message="no replica noticed")
        first = await connect(gateway.url)
        await first.sub(topic, presence=True)
        await nc.flush()
        assert claims == []  # welcome came without a claim (none could be answered)
    finally:
        await nc.close()

    settings = presence_settings(shared_nats.url, grace=1.5)
    async with running_service(run_presence, settings):
        await eventually(lambda: not gateway.deps.presence.absent, message="replica noticed")
        second = await connect(gateway.url)
        await second.sub(topic, presence=True)

        async def listed() -> bool:  # the join travels as an event after the ok
            reply = await second.request({"op": "presence", "topic": topic})
            return second.session in {m["session"] for m in reply.get("members", [])}

        await eventually(listed, message="the new session listed by presence")
