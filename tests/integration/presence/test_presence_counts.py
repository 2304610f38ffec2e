"""Counts-only mode on real replicas over NATS: distinct users counted, the query's
bounded sample, and a leader change that keeps the counts going."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from haws.common import names
from haws.common import presence_protocol as pp
from haws.presence.node import run_presence
from tests.integration.presence.presence_support import (
    GatewayDouble,
    Held,
    Recorder,
    presence_settings,
    replica_pair,
    unique,
)
from tests.support.service_runner import running_service
from tests.support.waiting import eventually

COUNTS = {"presence_counts_from": 10, "presence_counts_interval": 0.1, "presence_sample": 4}


async def join_all(gw: GatewayDouble, topic: str, users: list[str]) -> list[Held]:
    async def join(user: str) -> Held:
        held = await gw.claim(unique("k-"), user=user)
        await gw.sub(held, topic)
        return held

    return list(await asyncio.gather(*(join(u) for u in users)))


def last_counts(recorder: Recorder, topic: str) -> pp.Change | None:
    found = [c for c in recorder.on(topic) if c.kind == "counts"]
    return found[-1] if found else None


async def test_counts_carry_members_and_distinct_users_and_the_query_a_sample(
    shared_nats: Any, gw1: GatewayDouble, recorder: Recorder, topic: str
) -> None:
    settings = presence_settings(shared_nats.url, **COUNTS)
    async with running_service(run_presence, settings), gw1.beating():
        held = await join_all(gw1, topic, [f"u{i % 6}" for i in range(18)])
        await eventually(
            lambda: (c := last_counts(recorder, topic)) is not None and c.count == 18,
            message="counts of all 18",
        )
        counts = last_counts(recorder, topic)
        assert counts is not None
        assert counts.users == 6
        changes = recorder.on(topic)
        switch = next(i for i, c in enumerate(changes) if c.kind == "counts")
        assert [c.kind for c in changes[:switch]] == ["join"] * 9
        assert {c.kind for c in changes[switch:]} == {"counts"}

        response = await gw1.nc.request(names.PRESENCE_QUERY, pp.encode(pp.Query(topic)), 3)
        reply = pp.decode(pp.QueryReply, response.data)
        assert (reply.sample, reply.count, reply.users) == (True, 18, 6)
        assert 0 < len(reply.members) <= COUNTS["presence_sample"]
        assert {m["session"] for m in reply.members} <= {h.session for h in held}
        for h in held[:6]:  # users u0..u5 each lose one of their three sessions
            await gw1.unsub(h, topic)
        await eventually(
            lambda: (c := last_counts(recorder, topic)) is not None and c.count == 12,
            message="counts after six left",
        )
        assert (c := last_counts(recorder, topic)) is not None
        assert c.users == 6


async def test_a_new_leader_goes_on_sending_counts(
    shared_nats: Any, gw1: GatewayDouble, recorder: Recorder, topic: str
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        pair = await replica_pair(stack, shared_nats.url, **COUNTS)
        services, leader, follower = pair.services, pair.leader, pair.follower
        async with gw1.beating():
            await join_all(gw1, topic, [f"u{i}" for i in range(12)])
            await eventually(
                lambda: (c := last_counts(recorder, topic)) is not None and c.count == 12,
                message="counts of 12",
            )
            assert follower.index.size(topic) == 12
            await services[leader].stop()
            await eventually(lambda: follower.leadership.leading, timeout=5)
            await join_all(gw1, topic, [f"v{i}" for i in range(3)])
            await eventually(
                lambda: (c := last_counts(recorder, topic)) is not None and c.count == 15,
                message="the new leader's counts",
            )
        # 9 joins before the switch; a takeover's re-sends repeat their revision.
        assert [kind for kind, _, _ in recorder.distinct(topic)].count("join") == 9
