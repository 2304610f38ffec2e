"""Presence with one replica, gateways simulated over NATS: guarantees 5 and 6."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from nats.js.errors import NotFoundError

from haws.common import names
from haws.common import presence_protocol as pp
from haws.presence.node import PresenceNode, run_presence
from tests.integration.presence.presence_support import (
    FAST,
    GatewayDouble,
    Held,
    Recorder,
    presence_settings,
    unique,
)
from tests.support.service_runner import running_service
from tests.support.waiting import eventually

GRACE = FAST["grace"]
HEARTBEAT_TIMEOUT = FAST["heartbeat_timeout"]


async def test_join_on_first_presence_sub_and_leave_on_unsub(
    presence: PresenceNode, gw1: GatewayDouble, recorder: Recorder, topic: str, session_id: str
) -> None:
    async with gw1.beating():
        held = await gw1.claim(session_id, user="ann")
        await gw1.sub(held, topic)
        await gw1.sub(held, topic)  # a second sub of the same topic is no second join
        await recorder.wait_for("join", session_id)
        join = next(c for c in recorder.changes if c.session == session_id)
        assert (join.topic, join.user) == (topic, "ann")
        assert join.revision > 0
        assert await gw1.query(topic) == [{"session": session_id, "node": gw1.node, "user": "ann"}]
        await gw1.unsub(held, topic)
        await recorder.wait_for("leave", session_id)
        assert recorder.of(session_id) == ["join", "leave"]
        assert await gw1.members(topic) == set()


async def test_close_leaves_only_after_the_grace(
    presence: PresenceNode, gw1: GatewayDouble, recorder: Recorder, topic: str, session_id: str
) -> None:
    async with gw1.beating():
        held = await gw1.claim(session_id)
        await gw1.sub(held, topic)
        await recorder.wait_for("join", session_id)
        closed_at = time.monotonic()
        await gw1.close(held)
        assert await gw1.members(topic) == {session_id}  # offline, still within the grace
        await recorder.wait_for("leave", session_id, timeout=GRACE + 5)
        assert time.monotonic() - closed_at >= GRACE - 0.05
        assert await gw1.members(topic) == set()


async def test_reconnect_within_grace_on_another_node_emits_neither(
    presence: PresenceNode,
    gw1: GatewayDouble,
    gw2: GatewayDouble,
    recorder: Recorder,
    topic: str,
    session_id: str,
) -> None:
    sentinel = unique("sentinel-")
    async with gw1.beating(), gw2.beating():
        held = await gw1.claim(session_id, user="ann")
        other = await gw1.claim(sentinel)
        for h in (held, other):
            await gw1.sub(h, topic)
        await recorder.wait(lambda: len(recorder.of(sentinel) + recorder.of(session_id)) == 2)
        await gw1.close(held)
        await gw1.close(other)
        again = await gw2.claim(session_id, user="ann", topics=[topic])  # the resume
        assert again.epoch == held.epoch + 1
        assert again.previous_node == gw1.node
        # The sentinel closed at the same moment and nobody resumed it: once its
        # leave is out, the leader's expiry has passed over our session too.
        await recorder.wait_for("leave", sentinel, timeout=GRACE + 5)
        assert recorder.of(session_id) == ["join"]
        assert await gw2.query(topic) == [{"session": session_id, "node": gw2.node, "user": "ann"}]
        assert recorder.takeovers == []  # the old connection had closed: nothing to take over


async def test_newer_claim_takes_over_and_fences_the_old_connection(
    presence: PresenceNode,
    gw1: GatewayDouble,
    gw2: GatewayDouble,
    recorder: Recorder,
    topic: str,
    session_id: str,
) -> None:
    async with gw1.beating(), gw2.beating():
        old = await gw1.claim(session_id)
        await gw1.sub(old, topic)
        new = await gw2.claim(session_id)
        assert new.epoch == old.epoch + 1
        assert new.previous_node == gw1.node
        await recorder.wait(lambda: len(recorder.takeovers) == 1)
        assert recorder.takeovers == [(gw1.node, pp.Takeover(session_id, old.conn, new.epoch))]
        # The old connection is fenced: its events are stale, the new one's are not.
        stale = await gw1.event("sub", old, "other.topic")
        assert (stale.ok, stale.stale) == (False, True)
        assert (await gw1.event("close", old)).stale
        forged = pp.Event("sub", session_id, gw2.node, old.conn, new.epoch, topic)
        reply = await gw2.nc.request(names.PRESENCE_EVENT, pp.encode(forged), timeout=3)
        assert pp.decode(pp.EventReply, reply.data).stale  # right epoch, wrong connection
        assert (await gw2.event("sub", new, "other.topic")).ok
        # A second claim on the same node, from another connection, takes over there.
        newest = await gw2.claim(session_id)
        await recorder.wait(lambda: len(recorder.takeovers) == 2)
        assert recorder.takeovers[1] == (gw2.node, pp.Takeover(session_id, new.conn, newest.epoch))
        assert recorder.of(session_id, topic) == ["join"]  # the topic followed the session


async def test_dead_node_sessions_leave_unless_reclaimed_elsewhere(
    presence: PresenceNode,
    gw1: GatewayDouble,
    gw2: GatewayDouble,
    recorder: Recorder,
    topic: str,
) -> None:
    stays, moves = unique("stays-"), unique("moves-")
    async with gw2.beating():
        async with gw1.beating():
            held = {s: await gw1.claim(s) for s in (stays, moves)}
            for h in held.values():
                await gw1.sub(h, topic)
            await recorder.wait(lambda: len(recorder.on(topic)) == 2)
        silent_since = time.monotonic()  # gw1 is "killed": no more heartbeats
        await gw2.claim(moves, topics=[topic])  # its client reconnected to gw2
        await recorder.wait_for("leave", stays, timeout=HEARTBEAT_TIMEOUT + GRACE + 5)
        took = time.monotonic() - silent_since
        assert HEARTBEAT_TIMEOUT + GRACE - 0.3 <= took <= HEARTBEAT_TIMEOUT + GRACE + 2.0, took
        assert recorder.of(moves) == ["join"]
        assert await gw2.members(topic) == {moves}
        # gw1 comes back and checks its sessions: both are lost to it now.
        reply = await gw1.heartbeat(sessions=[stays, moves])
        assert sorted(reply.lost) == sorted([stays, moves])
        assert reply.lease == HEARTBEAT_TIMEOUT


async def test_a_dead_node_s_sessions_get_the_longer_grace(
    shared_nats: Any, gw1: GatewayDouble, gw2: GatewayDouble, recorder: Recorder, topic: str
) -> None:
    """A session whose gateway died stays a member for ``node_dead_grace``: a resume
    later than ``grace`` but within it shows no leave and no join, while a session
    that closed on a live node leaves after the shorter ``grace``."""
    node_dead_grace = 3.0
    settings = presence_settings(
        shared_nats.url, heartbeat_timeout=HEARTBEAT_TIMEOUT, grace=GRACE,
        node_dead_grace=node_dead_grace,
    )  # fmt: skip
    stays, late, closes = unique("stays-"), unique("late-"), unique("closes-")
    async with running_service(run_presence, settings) as service, gw2.beating():
        presence: PresenceNode = service.value
        async with gw1.beating():
            held = {s: await gw1.claim(s) for s in (stays, late)}
            held[closes] = await gw2.claim(closes)
            for session, h in held.items():
                await (gw2 if session == closes else gw1).sub(h, topic)
            await recorder.wait(lambda: len(recorder.on(topic)) == 3)
        silent_since = time.monotonic()  # gw1 is "killed": no more heartbeats

        def declared_dead() -> bool:
            entries = [presence.index.get(s) for s in (stays, late)]
            return all(e is not None and e.record.reason == "node_dead" for e in entries)

        await eventually(declared_dead, timeout=HEARTBEAT_TIMEOUT + 5)
        await gw2.close(held[closes])
        # Its leave comes after ``grace`` from now, later than ``grace`` after gw1's
        # sessions went offline: past where one grace for all would have ended them.
        await recorder.wait_for("leave", closes, timeout=GRACE + 5)
        assert recorder.of(stays) == recorder.of(late) == ["join"]

        await gw2.claim(late, topics=[topic])  # its client is re-admitted only now
        await recorder.wait_for("leave", stays, timeout=HEARTBEAT_TIMEOUT + node_dead_grace + 5)
        took = time.monotonic() - silent_since
        assert took >= HEARTBEAT_TIMEOUT + node_dead_grace - 0.3, took
        assert recorder.of(late) == ["join"]
        assert await gw2.members(topic) == {late}


async def test_paused_node_back_within_grace_keeps_its_sessions(
    presence: PresenceNode, gw1: GatewayDouble, recorder: Recorder, topic: str, session_id: str
) -> None:
    sentinel = unique("sentinel-")
    async with gw1.beating():
        held = await gw1.claim(session_id)
        other = await gw1.claim(sentinel)
        for h in (held, other):
            await gw1.sub(h, topic)
        await recorder.wait(lambda: len(recorder.on(topic)) == 2)

    def offline() -> bool:
        entry = presence.index.get(session_id)
        return entry is not None and not entry.record.online

    await eventually(offline, timeout=HEARTBEAT_TIMEOUT + 3)  # the leader declared gw1 dead
    reply = await gw1.heartbeat(sessions=[session_id])  # back: "I still hold this one"
    assert reply.lost == []
    await eventually(lambda: not offline(), timeout=3)
    async with gw1.beating():
        await recorder.wait_for("leave", sentinel, timeout=GRACE + 5)
        assert recorder.of(session_id) == ["join"]
        assert await gw1.members(topic) == {session_id}


async def test_bad_requests_get_a_negative_answer(
    presence: PresenceNode, gw1: GatewayDouble
) -> None:
    claim = pp.Claim("not a session!", gw1.node, "c")
    reply = await gw1.nc.request(names.PRESENCE_CLAIM, pp.encode(claim), timeout=3)
    assert pp.decode(pp.ClaimReply, reply.data).epoch == 0
    reply = await gw1.nc.request(names.PRESENCE_EVENT, b"\x01garbage", timeout=3)
    assert pp.decode(pp.EventReply, reply.data) == pp.EventReply(ok=False)
    assert await gw1.query("nobody.here") == []


async def test_a_thousand_sessions_join_and_leave_and_the_members_converge(
    shared_nats: Any, gw1: GatewayDouble, recorder: Recorder, topic: str
) -> None:
    sessions = [unique(f"k{i}-") for i in range(1000)]
    held: dict[str, Held] = {}
    slots = asyncio.Semaphore(100)  # a hundred gateways' worth of requests in flight

    async def join(session: str) -> None:
        async with slots:
            held[session] = await gw1.claim(session, user=session[:4])
            await gw1.sub(held[session], topic)

    async def leave(index: int, session: str) -> None:
        async with slots:
            if index % 2:
                await gw1.unsub(held[session], topic)
            else:
                await gw1.close(held[session])  # leaves after the grace

    # No dead-node pass in this test: with the 1 s timeout, a loaded machine could
    # delay the double's beats past it and every session would leave early.
    settings = presence_settings(shared_nats.url, heartbeat_timeout=30.0)
    async with running_service(run_presence, settings), gw1.beating():
        await asyncio.gather(*(join(s) for s in sessions))
        assert await gw1.members(topic) == set(sessions)
        await recorder.wait(lambda: len(recorder.on(topic)) == 1000)
        await asyncio.gather(*(leave(i, s) for i, s in enumerate(sessions)))
        await recorder.wait(lambda: len(recorder.on(topic)) == 2000, timeout=GRACE + 10)
        assert await gw1.members(topic) == set()
    changes = recorder.on(topic)
    joins = sorted(c.session for c in changes if c.kind == "join")
    leaves = sorted(c.session for c in changes if c.kind == "leave")
    assert joins == leaves == sorted(sessions)
    assert all(c.kind == "join" for c in changes[:1000])


async def test_leader_purges_old_delete_markers(
    shared_nats: Any, gw1: GatewayDouble, recorder: Recorder, topic: str, session_id: str
) -> None:
    settings = presence_settings(shared_nats.url, tombstone_age=0.2)
    async with running_service(run_presence, settings), gw1.beating():
        held = await gw1.claim(session_id)
        await gw1.sub(held, topic)
        await gw1.close(held)
        await recorder.wait_for("leave", session_id, timeout=GRACE + 5)  # record deleted
        js = gw1.nc.jetstream()
        subject = f"$KV.{names.KV_PRESENCE}.{names.presence_owner_key(session_id)}"

        async def marker_gone() -> bool:
            try:
                await js.get_last_msg(f"KV_{names.KV_PRESENCE}", subject)
            except NotFoundError:
                return True
            return False

        await eventually(marker_gone, timeout=5)
