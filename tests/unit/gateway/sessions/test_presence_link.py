"""A claim in flight (issue 14): events wait behind it and carry its epoch; a
takeover or a fence reaching the connection meanwhile still wins or waits.

The gateway runs on the memory broker with a gated memory presence, so a claim
stays in flight until the test opens the gate.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from haws.common import presence_protocol as pp
from haws.gateway.broker.memory import MemoryBroker
from haws.gateway.sessions.takeover import on_fenced, take_over
from tests.support.fake_socket import FakeTransport, socketless_connection
from tests.support.gated_presence import GatedPresence
from tests.support.memory_gateway import NODE, MemoryGateway, memory_gateway
from tests.support.waiting import eventually

OTHER = "memory-2"


@pytest.fixture
async def held_before() -> AsyncIterator[MemoryGateway]:
    """Claims of this node wait before the presence service applies them."""

    def build(broker: MemoryBroker) -> GatedPresence:
        return GatedPresence(broker, hold_before={NODE})

    async with memory_gateway(replica=build) as gateway:
        yield gateway


@pytest.fixture
async def held_after() -> AsyncIterator[MemoryGateway]:
    """Claims of this node are applied at once; their replies wait on the way back."""

    def build(broker: MemoryBroker) -> GatedPresence:
        return GatedPresence(broker, hold_after={NODE})

    async with memory_gateway(replica=build) as gateway:
        yield gateway


def gated(gateway: MemoryGateway) -> GatedPresence:
    assert isinstance(gateway.presence, GatedPresence)
    return gateway.presence


async def members(gateway: MemoryGateway, topic: str) -> set[str]:
    reply = await gateway.presence.query(pp.Query(topic))
    return {m["session"] for m in reply.members}


def taken_over(transport: FakeTransport) -> bool:
    return {"op": "reconnect", "reason": "takeover", "delay": 0} in transport.frames()


async def test_events_wait_for_the_claim_then_go_out_in_order_with_its_epoch(
    held_before: MemoryGateway,
) -> None:
    gateway, presence = held_before, gated(held_before)
    link = gateway.deps.presence
    conn, _, _ = socketless_connection(session="s1")
    gateway.hub.add(conn)
    link.claim_soon(
        pp.Claim("s1", NODE, conn.conn_id), conn.claimed, lambda: take_over(conn, "superseded")
    )
    for event in (
        pp.Event("sub", "s1", NODE, conn.conn_id, conn.epoch, "room"),
        pp.Event("unsub", "s1", NODE, conn.conn_id, conn.epoch, "room"),
        pp.Event("sub", "s1", NODE, conn.conn_id, conn.epoch, "hall"),
    ):
        link.event(event)
    await eventually(lambda: presence.waiting != [], message="the claim reached the gate")
    assert link.claiming(conn.conn_id)
    assert presence.events == []  # nothing applied before the claim
    presence.gate.set()
    await eventually(lambda: len(presence.events) == 3, message="the held events applied")
    assert conn.epoch > 0
    assert [(e.kind, e.topic, e.epoch) for e in presence.events] == [
        ("sub", "room", conn.epoch),
        ("unsub", "room", conn.epoch),
        ("sub", "hall", conn.epoch),
    ]
    assert not link.claiming(conn.conn_id)
    assert await members(gateway, "hall") == {"s1"}


async def test_a_close_during_the_claim_follows_it_so_the_session_leaves(
    held_before: MemoryGateway,
) -> None:
    gateway, presence = held_before, gated(held_before)
    conn, _, _ = socketless_connection(session="s2")
    gateway.hub.add(conn)
    link = gateway.deps.presence
    link.claim_soon(
        pp.Claim("s2", NODE, conn.conn_id, topics=["room"]),
        conn.claimed,
        lambda: take_over(conn, "superseded"),
    )
    await eventually(lambda: presence.waiting != [], message="the claim reached the gate")
    await gateway.disconnect(conn)  # the client went away before the claim landed
    presence.gate.set()
    await eventually(lambda: [e.kind for e in presence.events] == ["close"], message="closed")
    assert await members(gateway, "room") == set()


async def test_a_takeover_overtaking_the_claim_reply_closes_the_connection_4009(
    held_after: MemoryGateway,
) -> None:
    gateway, presence = held_after, gated(held_after)
    conn, transport, _ = socketless_connection(session="s3")
    gateway.hub.add(conn)
    link = gateway.deps.presence
    link.claim_soon(
        pp.Claim("s3", NODE, conn.conn_id), conn.claimed, lambda: take_over(conn, "superseded")
    )
    await eventually(lambda: presence.waiting != [], message="the claim applied, reply held")
    link.event(pp.Event("sub", "s3", NODE, conn.conn_id, conn.epoch, "room"))
    # A newer hello elsewhere claims the session while our reply is still on its way.
    newer = await presence.claim(pp.Claim("s3", OTHER, "conn-elsewhere"))
    await eventually(lambda: taken_over(transport), message="the takeover reached the connection")
    assert conn.closing
    presence.gate.set()
    await eventually(lambda: not link.claiming(conn.conn_id), message="the reply arrived")
    assert conn.epoch < newer.epoch
    # The held sub went out with the older epoch: stale, so the session never joined.
    await gateway.deps.presence.stop()
    assert presence.events == []
    assert await members(gateway, "room") == set()


async def test_a_fence_spares_a_connection_whose_claim_is_in_flight(
    held_before: MemoryGateway,
) -> None:
    gateway, presence = held_before, gated(held_before)
    conn, transport, _ = socketless_connection(session="s4")
    gateway.hub.add(conn)
    link = gateway.deps.presence
    link.claim_soon(
        pp.Claim("s4", NODE, conn.conn_id), conn.claimed, lambda: take_over(conn, "superseded")
    )
    await eventually(lambda: presence.waiting != [], message="the claim reached the gate")
    on_fenced(gateway.hub, ["s4"], link.claiming)  # its claim decides, not the old answer
    assert not conn.closing
    presence.gate.set()
    await eventually(lambda: not link.claiming(conn.conn_id), message="the claim landed")
    on_fenced(gateway.hub, ["s4"], link.claiming)
    assert conn.closing
    await eventually(lambda: taken_over(transport), message="closed 4009 once claimed")


async def test_a_resume_elsewhere_landing_before_the_first_claim_keeps_the_session(
    held_before: MemoryGateway,
) -> None:
    """The window's race: welcome went out, the client resumed on another node, and
    that claim landed first. The newer connection keeps the session; this one is
    told ``reconnect`` (takeover) and closed 4009, and its held events count for nothing."""
    gateway, presence = held_before, gated(held_before)
    conn, transport, _ = socketless_connection(session="s5")
    gateway.hub.add(conn)
    link = gateway.deps.presence
    link.claim_soon(
        pp.Claim("s5", NODE, conn.conn_id), conn.claimed, lambda: take_over(conn, "superseded")
    )
    await eventually(lambda: presence.waiting != [], message="the claim reached the gate")
    link.event(pp.Event("sub", "s5", NODE, conn.conn_id, conn.epoch, "room"))
    resumed = await presence.claim(pp.Claim("s5", OTHER, "conn-elsewhere"))
    presence.gate.set()
    await eventually(lambda: taken_over(transport), message="the older connection closed 4009")
    assert conn.closing
    assert conn.epoch == 0
    event = await presence.event(pp.Event("sub", "s5", OTHER, "conn-elsewhere", resumed.epoch, "r"))
    assert (event.ok, event.stale) == (True, False)  # the resumed connection still owns it
    await link.stop()
    assert await members(gateway, "room") == set()  # the older one's sub never applied
