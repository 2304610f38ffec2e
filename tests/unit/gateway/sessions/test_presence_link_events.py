"""A node's presence events leave in batches and keep each session's order (issue 14).

The memory presence (it passes the ``PresenceCalls`` contract) records every
event it applied; switches make it fail one event once (a store conflict on
the replica), or predate batches.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from haws.common import presence_protocol as pp
from haws.common.logs import get_logger
from haws.gateway.broker.memory_presence import MemoryPresence
from haws.gateway.broker.seams import NoReplica
from haws.gateway.sessions.fence import Fence
from haws.gateway.sessions.presence_link import PresenceLink
from haws.presence.batches import event_failed, in_session_order
from tests.support.waiting import eventually


class FlakyPresence(MemoryPresence):
    def __init__(self) -> None:
        super().__init__()
        self.fail_once: set[tuple[str, str | None]] = set()
        """(session, topic) of events whose first attempt is not applied."""
        self.old = False
        self.batch_sizes: list[int] = []

    async def event(self, event: pp.Event) -> pp.EventReply:
        if (event.session, event.topic) in self.fail_once:
            self.fail_once.discard((event.session, event.topic))
            return pp.EventReply(ok=False)
        return await super().event(event)

    async def batch(self, batch: pp.Batch) -> pp.BatchReply:
        """As a replica does: see ``haws.presence.batches``."""
        if self.old:
            raise NoReplica("no responders on the batch subject")
        self.batch_sizes.append(len(batch.events))
        claims = [await self.claim(claim) for claim in batch.claims]
        events = await in_session_order(batch.events, self.event, event_failed)
        return pp.BatchReply(claims, events)


@pytest.fixture
async def presence() -> FlakyPresence:
    return FlakyPresence()


@pytest.fixture
async def link(presence: FlakyPresence) -> AsyncIterator[PresenceLink]:
    link = PresenceLink(
        presence, get_logger("test"), node="n1", fence=Fence(1.0), heartbeat_interval=60.0
    )
    await link.start(
        on_takeover=lambda command: None,
        connections=lambda: 0,
        sessions=list,
        fenced=lambda lost: None,
    )
    yield link
    await link.stop(flush_timeout=1.0)


async def claimed(presence: FlakyPresence, sessions: list[str]) -> dict[str, int]:
    return {
        s: (await presence.claim(pp.Claim(session=s, node="n1", conn=f"c-{s}"))).epoch
        for s in sessions
    }


def subs(presence: FlakyPresence, session: str) -> list[str | None]:
    return [e.topic for e in presence.events if e.session == session]


async def test_events_queued_together_leave_together_in_order(
    presence: FlakyPresence, link: PresenceLink
) -> None:
    epochs = await claimed(presence, ["s1"])
    topics = [f"t{i}" for i in range(300)]
    for topic in topics:
        link.event(pp.Event("sub", "s1", "n1", "c-s1", epochs["s1"], topic))
    await eventually(lambda: len(presence.events) == 300, timeout=5, message="all applied")
    assert subs(presence, "s1") == topics
    assert len(presence.batch_sizes) < 10  # not one request per event


async def test_a_failed_event_is_sent_again_before_its_session_s_later_ones(
    presence: FlakyPresence, link: PresenceLink
) -> None:
    epochs = await claimed(presence, ["a", "b"])
    presence.fail_once = {("a", "t1")}
    for session in ("a", "b"):  # one shard or two: each session's order must hold
        for topic in ("t0", "t1", "t2", "t3"):
            link.event(pp.Event("sub", session, "n1", f"c-{session}", epochs[session], topic))
    await eventually(lambda: len(presence.events) == 8, timeout=5, message="all applied")
    assert subs(presence, "a") == ["t0", "t1", "t2", "t3"]
    assert subs(presence, "b") == ["t0", "t1", "t2", "t3"]


async def test_replicas_that_predate_batches_get_them_one_by_one_in_order(
    presence: FlakyPresence, link: PresenceLink
) -> None:
    presence.old = True
    epochs = await claimed(presence, ["a"])
    presence.fail_once = {("a", "t1")}
    for topic in ("t0", "t1", "t2", "t3"):
        link.event(pp.Event("sub", "a", "n1", "c-a", epochs["a"], topic))
    await eventually(lambda: len(presence.events) == 4, timeout=5, message="all applied")
    assert subs(presence, "a") == ["t0", "t1", "t2", "t3"]
    assert presence.batch_sizes == []
