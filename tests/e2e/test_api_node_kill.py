"""Lifecycle events across a gateway SIGKILL (real gateway processes).

Every session of the killed node that did not resume gets exactly one
``disconnect node_dead``; every one that resumed elsewhere gets a ``resume``
with a higher epoch and no ``disconnect`` after it; the example consumer's
online-users table ends up with exactly the users still connected.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NatsClient

from examples.python.online_users import OnlineUsers
from haws.presence.node import PresenceNode
from haws.server import token
from tests.support.client_pool import ClientPool
from tests.support.event_log import EventLog
from tests.support.failover_nodes import GatewayPair, gateway_pair, leading_presence
from tests.support.waiting import eventually

HEARTBEAT_TIMEOUT = 1.5
GRACE = 1.0
SECRET = "an-e2e-secret-of-at-least-32-bytes!!"
GATEWAY_ARGS = [
    "--presence-heartbeat", "0.3", "--consul-ttl", "2",
    "--auth-mode", "jwt", "--auth-hs256-secret", SECRET,
]  # fmt: skip
STAY, MOVE = 3, 3


@pytest.fixture
async def presence(shared_nats: Any) -> AsyncIterator[PresenceNode]:
    async with leading_presence(shared_nats, HEARTBEAT_TIMEOUT, GRACE) as node:
        yield node


@pytest.fixture
async def nodes(shared_nats: Any, consul_agent: Any, tmp_path: Path) -> AsyncIterator[GatewayPair]:
    async with gateway_pair(tmp_path, shared_nats, consul_agent, GATEWAY_ARGS) as pair:
        yield pair


@pytest.fixture
async def events(shared_nats: Any, presence: PresenceNode) -> AsyncIterator[EventLog]:
    del presence
    nc: NatsClient = await nats.connect(shared_nats.url)
    try:
        async with EventLog(nc) as log:
            yield log
    finally:
        await nc.close()


@pytest.fixture
async def clients() -> AsyncIterator[ClientPool]:
    async with ClientPool() as pool:
        yield pool


async def test_killed_node_s_sessions_get_one_node_dead_unless_they_resumed(
    presence: PresenceNode, events: EventLog, nodes: GatewayPair, clients: ClientPool
) -> None:
    doomed, survivor = nodes
    prefix = uuid.uuid4().hex[:6]
    sessions: dict[str, tuple[str, str]] = {}  # session -> (user, token)
    for i in range(STAY + MOVE):
        user = f"{prefix}-u{i}"
        mine = token(user, {"sub": [">"], "pub": [">"]}, 120, key=SECRET)
        client = await clients.connect(doomed.ws_url)
        welcome = await client.hello(token=mine)
        sessions[welcome["session"]] = (user, mine)
    ordered = list(sessions)
    stayers, movers = ordered[:STAY], ordered[STAY:]
    await eventually(
        lambda: all(events.kinds(s) == ["connect"] for s in ordered), message="connected"
    )

    doomed.kill()
    for session in movers:  # resume elsewhere before the node is declared dead
        client = await clients.connect(survivor.ws_url)
        welcome = await client.hello(token=sessions[session][1], session=session)
        assert welcome["node"] == survivor.name

    await eventually(
        lambda: all("disconnect:node_dead" in events.kinds(s) for s in stayers),
        timeout=HEARTBEAT_TIMEOUT + 10,
        message="node_dead for the sessions that stayed",
    )
    await eventually(lambda: all("resume" in events.kinds(s) for s in movers), message="resumes")
    # Past the grace the leader forgets the dead sessions: whatever it had to say
    # about them (nothing more, it must be) was said before.
    await eventually(
        lambda: all(presence.index.get(s) is None for s in stayers),
        timeout=GRACE + 10,
        message="dead sessions expired",
    )
    for session in stayers:
        assert events.kinds(session) == ["connect", "disconnect:node_dead"], session
    for session in movers:
        history = events.of(session)
        kinds = [e.type for e in history]
        resume_at = kinds.index("resume")
        assert history[resume_at].epoch > history[0].epoch
        assert "disconnect" not in kinds[resume_at + 1 :], events.kinds(session)
        assert history[resume_at].node == survivor.name

    table = OnlineUsers()
    for event in events.events:
        table.apply(event)
    expected = {sessions[s][0] for s in movers}
    assert {u for u in table.users() if u.startswith(prefix)} == expected
