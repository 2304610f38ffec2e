"""Claims that race each other, on two replicas in one event loop.

Two replicas answer the queue group, so two claims of one session sent at the
same instant are usually handled by different replicas on stale copies of the
record: only the compare-and-set decides. Whatever the order, exactly one
connection owns the session afterwards, the other was told (``Takeover``) or
never owned it (``superseded``), and its events are refused as stale.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from haws.common import names
from haws.common import presence_protocol as pp
from haws.presence.node import PresenceNode, run_presence
from tests.integration.presence.presence_support import (
    GatewayDouble,
    Held,
    Recorder,
    presence_settings,
    unique,
)
from tests.support.service_runner import running_service
from tests.support.waiting import eventually

RACES = 40
"""Sessions claimed twice at once (each race is independent)."""


@pytest.fixture
async def two_replicas(shared_nats: Any) -> AsyncIterator[list[PresenceNode]]:
    async with contextlib.AsyncExitStack() as stack:
        yield [
            (
                await stack.enter_async_context(
                    running_service(
                        run_presence, presence_settings(shared_nats.url, name=unique("r-"))
                    )
                )
            ).value
            for _ in range(2)
        ]


async def _claim(
    gw: GatewayDouble, session: str, *, fresh: bool = False
) -> tuple[Held, pp.ClaimReply]:
    conn = unique("c-")
    claim = pp.Claim(session, gw.node, conn, fresh=fresh)
    raw = await gw.nc.request(names.PRESENCE_CLAIM, pp.encode(claim), timeout=5)
    reply = pp.decode(pp.ClaimReply, raw.data)
    return Held(session, conn, reply.epoch, reply.previous_node), reply


async def _record(gw: GatewayDouble, session: str) -> pp.OwnerRecord:
    kv = await gw.nc.jetstream().key_value(names.KV_PRESENCE)
    entry = await kv.get(names.presence_owner_key(session))
    assert entry.value is not None
    return pp.decode(pp.OwnerRecord, entry.value)


def _sent(recorder: Recorder, node: str, takeover: pp.Takeover) -> Callable[[], bool]:
    return lambda: (node, takeover) in recorder.takeovers


async def test_a_claim_racing_a_takeover_leaves_one_owner_and_fences_the_other(
    two_replicas: list[PresenceNode],
    gw1: GatewayDouble,
    gw2: GatewayDouble,
    recorder: Recorder,
    topic: str,
) -> None:
    async with gw1.beating(), gw2.beating():
        sessions = [unique("race-") for _ in range(RACES)]
        # Each session is owned on gw1 and subscribed; then gw1 claims it again
        # (a reconnect there) at the same instant as gw2 takes it over.
        first = {s: (await _claim(gw1, s))[0] for s in sessions}
        for s in sessions:
            await gw1.sub(first[s], topic)
        await recorder.wait(lambda: len(recorder.on(topic)) == RACES)
        races = await asyncio.gather(
            *(asyncio.gather(_claim(gw1, s), _claim(gw2, s)) for s in sessions)
        )
        for s, ((a, _), (b, _)) in zip(sessions, races, strict=True):
            assert a.epoch > first[s].epoch
            assert b.epoch > first[s].epoch
            assert a.epoch != b.epoch  # the compare-and-set ordered them
            winner, loser = (a, b) if a.epoch > b.epoch else (b, a)
            winner_gw, loser_gw = (gw1, gw2) if winner is a else (gw2, gw1)
            record = await _record(gw1, s)
            assert (record.node, record.conn, record.epoch) == (
                winner_gw.node,
                winner.conn,
                winner.epoch,
            )
            # The loser was told to close, with the winner's epoch, on its own node.
            told = pp.Takeover(s, loser.conn, winner.epoch)
            await recorder.wait(_sent(recorder, loser_gw.node, told))
            # Its events no longer count; the winner's do.
            assert (await loser_gw.event("sub", loser, "other.topic")).stale
            assert (await winner_gw.event("sub", winner, "other.topic")).ok
        # The topic followed every session through both claims: one join each, no leave.
        assert await gw1.members(topic) == set(sessions)
        distinct = {(kind, session) for kind, session, _ in recorder.distinct(topic)}
        assert distinct == {("join", s) for s in sessions}


async def test_a_fresh_claim_racing_a_resume_never_takes_the_session_from_it(
    two_replicas: list[PresenceNode],
    gw1: GatewayDouble,
    gw2: GatewayDouble,
    recorder: Recorder,
) -> None:
    async with gw1.beating(), gw2.beating():
        sessions = [unique("fresh-") for _ in range(RACES)]
        races = await asyncio.gather(
            *(asyncio.gather(_claim(gw1, s, fresh=True), _claim(gw2, s)) for s in sessions)
        )
        for s, ((fresh, fresh_reply), (resumed, _)) in zip(sessions, races, strict=True):
            record = await _record(gw1, s)
            # The resume owns the session whichever claim landed first.
            assert (record.node, record.conn, record.epoch) == (
                gw2.node,
                resumed.conn,
                resumed.epoch,
            )
            if fresh_reply.superseded:  # the resume landed first: the fresh one wrote nothing
                assert fresh.epoch == 0
                assert resumed.epoch == 1
            else:  # the fresh one landed first and was taken over
                assert (fresh.epoch, resumed.epoch) == (1, 2)
                told = pp.Takeover(s, fresh.conn, resumed.epoch)
                await eventually(_sent(recorder, gw1.node, told), timeout=5)
            assert (await gw2.event("sub", resumed, "t.x")).ok
            assert not (await gw1.event("sub", fresh, "t.x")).ok
