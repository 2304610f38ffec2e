"""A gateway whose presence replicas predate batches (issue 14): over a real
nats-server, nobody serves ``haws.presence.batch``, so the gateway's claims and
events go one per request and still all land, each session's events in order.

The "old replica" answers the single subjects from the memory presence (it
passes the ``PresenceCalls`` contract): what is under test is the gateway's side
of the wire, the no-responders answer of a real server, and the fallback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from haws.common import names
from haws.common import presence_protocol as pp
from haws.common.logs import get_logger
from haws.gateway.broker.memory_presence import MemoryPresence
from haws.gateway.broker.nats_presence import NatsPresence
from haws.gateway.sessions.claim_batches import SENDERS
from tests.support.presence_links import claim_storm, started_link
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def old_replica(nats_server: Any) -> AsyncIterator[MemoryPresence]:
    presence = MemoryPresence()
    nc = await nats.connect(nats_server.url)

    async def claim(msg: Msg) -> None:
        await msg.respond(pp.encode(await presence.claim(pp.decode(pp.Claim, msg.data))))

    async def event(msg: Msg) -> None:
        await msg.respond(pp.encode(await presence.event(pp.decode(pp.Event, msg.data))))

    async def heartbeat(msg: Msg) -> None:
        await msg.respond(pp.encode(pp.HeartbeatReply(lease=10.0)))

    await nc.subscribe(names.PRESENCE_CLAIM, queue=names.PRESENCE_QUEUE, cb=claim)
    await nc.subscribe(names.PRESENCE_EVENT, queue=names.PRESENCE_QUEUE, cb=event)
    await nc.subscribe(names.PRESENCE_HEARTBEAT, cb=heartbeat)
    await nc.flush()
    try:
        yield presence
    finally:
        await nc.close()


async def test_claims_and_events_fall_back_to_one_per_request(
    old_replica: MemoryPresence, own_nc: NatsClient
) -> None:
    calls = NatsPresence(own_nc, get_logger("test"), timeout=5)
    async with started_link(calls, ready_timeout=5) as link:
        n = SENDERS * 20  # far more than the senders: they would leave in batches
        sessions = [f"s{i}" for i in range(n)]
        # Each session's subs are held behind its claim, then sent in order.
        epochs = claim_storm(link, sessions, ("t0", "t1", "t2"))
        await eventually(lambda: len(epochs) == n, timeout=10, message="every claim's epoch")
        assert all(epoch > 0 for epoch in epochs.values())
        await eventually(
            lambda: len(old_replica.events) == 3 * n, timeout=10, message="every event"
        )
        for session in sessions:
            applied = [e.topic for e in old_replica.events if e.session == session]
            assert applied == ["t0", "t1", "t2"]
