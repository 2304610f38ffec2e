"""Presence and ownership when a gateway process dies or freezes (real processes).

- SIGKILL a gateway: its sessions leave within heartbeat timeout + grace, except
  the ones that resumed on another node meanwhile.
- SIGSTOP a gateway, move a session elsewhere, SIGCONT: the woken node fences
  itself and delivers nothing more to the session it lost.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from haws.presence.node import PresenceNode
from tests.support.client_pool import ClientPool
from tests.support.failover_nodes import GatewayPair, gateway_pair, leading_presence
from tests.support.waiting import eventually

HEARTBEAT_TIMEOUT = 1.5
GRACE = 1.0
GATEWAY_ARGS = ["--presence-heartbeat", "0.3", "--pause-threshold", "1.0", "--consul-ttl", "2"]


@pytest.fixture
async def presence(shared_nats: Any) -> AsyncIterator[PresenceNode]:
    async with leading_presence(shared_nats, HEARTBEAT_TIMEOUT, GRACE) as node:
        yield node


@pytest.fixture
async def nodes(shared_nats: Any, consul_agent: Any, tmp_path: Path) -> AsyncIterator[GatewayPair]:
    async with gateway_pair(tmp_path, shared_nats, consul_agent, GATEWAY_ARGS) as pair:
        yield pair


@pytest.fixture
async def clients() -> AsyncIterator[ClientPool]:
    async with ClientPool() as pool:
        yield pool


async def test_killed_gateway_sessions_leave_unless_they_resumed_elsewhere(
    presence: PresenceNode, nodes: GatewayPair, clients: ClientPool
) -> None:
    doomed, survivor = nodes
    topic = f"room.{uuid.uuid4().hex[:8]}"
    watcher = await clients.open(survivor.ws_url)
    await watcher.sub(topic, presence=True)
    stays = await clients.open(doomed.ws_url)
    moves = await clients.open(doomed.ws_url)
    for client in (stays, moves):
        await client.sub(topic, presence=True)
    s_stays, s_moves = stays.session, moves.session
    await eventually(
        lambda: {("join", s_stays), ("join", s_moves)} <= set(watcher.presence_changes(topic)),
        message="both joined",
    )
    before = len(watcher.presence_changes(topic))

    loop = asyncio.get_running_loop()
    killed_at = loop.time()
    doomed.kill()
    back = await clients.open(survivor.ws_url, session=s_moves)
    # As the SDK does: presence subscriptions are sent again after a resume.
    await back.sub(topic, presence=True)

    await eventually(
        lambda: ("leave", s_stays) in watcher.presence_changes(topic),
        timeout=HEARTBEAT_TIMEOUT + GRACE + 5,
        message="the session left with its node leaves",
    )
    took = loop.time() - killed_at
    print(f"\nkill -> leave: {took:.2f} s (timeout {HEARTBEAT_TIMEOUT} + grace {GRACE})")
    assert took >= GRACE  # not before the grace period
    assert watcher.presence_changes(topic)[before:] == [("leave", s_stays)]
    reply = await watcher.request({"op": "presence", "topic": topic})
    assert {m["session"] for m in reply["members"]} == {watcher.session, s_moves}


async def test_frozen_gateway_fences_itself_and_never_delivers_to_a_session_it_lost(
    presence: PresenceNode, nodes: GatewayPair, clients: ClientPool
) -> None:
    frozen, survivor = nodes
    topic = f"feed.{uuid.uuid4().hex[:8]}"
    old = await clients.open(frozen.ws_url)
    ok = await old.sub(topic)
    session = old.session
    publisher = await clients.open(survivor.ws_url)
    # A new session's claim goes on beside its welcome (and may linger a few ms to
    # share a request): presence must hold the session as the frozen node's first.
    await eventually(
        lambda: (e := presence.index.get(session)) is not None and e.record.node == frozen.name,
        timeout=10,
        message="presence holds the session on the node about to freeze",
    )

    dead_before = presence.metrics.nodes_dead._value.get()
    frozen.pause()
    # Frozen past its pause threshold and declared dead: presence will send it no
    # takeover command (its sessions are offline), so only self-fencing protects.
    await eventually(
        lambda: presence.metrics.nodes_dead._value.get() > dead_before,
        timeout=10,
        message="presence declared the frozen node dead",
    )
    # The client gave up on the frozen node and resumed on the other one.
    new = await clients.open(survivor.ws_url, session=session, cursors={topic: ok["seq"]})
    acks = [await publisher.pub(topic, n) for n in range(5)]
    await new.wait_msgs(topic, 5)
    frozen.resume()

    assert await old.wait_closed(timeout=10) == 4009
    assert old.msgs[topic] == [], "the woken node delivered to a session it had lost"
    assert [f["op"] for f in old.others if f["op"] == "reconnect"] == ["reconnect"]
    assert [m["seq"] for m in new.msgs[topic]] == [a["seq"] for a in acks]
