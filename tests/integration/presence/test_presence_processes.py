"""Two presence replicas as real processes, launched as ``haws up`` launches them.

SIGKILL the leader: queries stay right, expiry goes on within a few seconds and
nothing leaves falsely. Then kill and restart both: the state, all in KV, survives.
SIGKILL the leader in the middle of a claim storm: every session is owned once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Container
from pathlib import Path
from typing import Any, TypeVar

from nats.aio.client import Client as NatsClient
from nats.js.kv import KeyValue

from haws.cluster import HawsService
from haws.cluster.probe import http_get
from haws.common import names
from haws.presence.lease import LeaseValue
from tests.integration.presence.presence_support import (
    FAST,
    ClaimStorm,
    GatewayDouble,
    Recorder,
    replica,
    start,
    unique,
)
from tests.support.waiting import eventually

T = TypeVar("T")


async def lease_holder(kv: KeyValue) -> str | None:
    """The replica named in the leader lease, if any."""
    entry = await kv.get(names.KV_PRESENCE_LEADER)
    value = LeaseValue.decode(entry.value or b"")
    return value.holder if value is not None else None


async def led_by_one_of(kv: KeyValue, replicas: Container[str]) -> bool:
    return await lease_holder(kv) in replicas


@contextlib.asynccontextmanager
async def led_replicas(
    data_dir: Path, nats_url: str, own_nc: NatsClient, replica_names: tuple[str, ...]
) -> AsyncIterator[tuple[dict[str, HawsService], KeyValue]]:
    """Replica processes started, once one of them holds the lease; stopped after."""
    replicas = {n: replica(data_dir, nats_url, n) for n in replica_names}
    try:
        await start(*replicas.values())
        kv = await own_nc.jetstream().key_value(names.KV_PRESENCE)
        await eventually(lambda: led_by_one_of(kv, replicas), timeout=5)
        yield replicas, kv
    finally:
        for r in replicas.values():
            await asyncio.to_thread(r.stop, 5.0)


async def test_leader_sigkill_then_restart_of_both(
    nats_server: Any, data_dir: Path, own_nc: NatsClient, topic: str
) -> None:
    recorder = Recorder()
    await recorder.start(own_nc)
    gw = GatewayDouble(own_nc)
    async with (
        led_replicas(data_dir, nats_server.url, own_nc, ("pres-a", "pres-b")) as (
            replicas,
            kv,
        ),
        gw.beating(),
    ):
        held = [await gw.claim(unique(f"m{i}-")) for i in range(4)]
        for h in held:
            await gw.sub(h, topic)
        await recorder.wait(lambda: len(recorder.on(topic)) == 4)

        leader_name = await lease_holder(kv)
        assert leader_name is not None
        survivor_name = next(n for n in replicas if n != leader_name)
        await asyncio.to_thread(replicas[leader_name].kill)
        killed_at = time.monotonic()
        late = await gw.claim(unique("late-"))  # joins while nobody leads
        await gw.sub(late, topic)
        await gw.close(held[0])  # must still leave after the grace
        everyone = {h.session for h in held} | {late.session}
        assert await gw.members_soon(topic) == everyone  # held[0] is within its grace
        await recorder.wait_for("leave", held[0].session, timeout=10)
        handover = time.monotonic() - killed_at
        assert handover < FAST["leader_ttl"] + FAST["grace"] + 3.0, handover
        await recorder.wait_for("join", late.session)
        assert await lease_holder(kv) == survivor_name
        metrics = await asyncio.to_thread(
            http_get, replicas[survivor_name].http_url + "/metrics", 2.0
        )
        assert metrics is not None
        assert metrics[0] == 200
        assert b"haws_presence_is_leader 1.0" in metrics[1]
        assert b'haws_presence_changes_total{kind="leave"}' in metrics[1]
        assert await gw.members(topic) == everyone - {held[0].session}
        # Re-sends after the leader change repeat their revision; beyond those,
        # exactly one join each and the one real leave.
        distinct = sorted((kind, session) for kind, session, _ in recorder.distinct(topic))
        expected = [("join", s) for s in everyone] + [("leave", held[0].session)]
        assert distinct == sorted(expected)

        # Both replicas die; the records, all in KV, outlive them.
        await asyncio.to_thread(replicas[survivor_name].kill)
        seen = len(recorder.on(topic))
        await start(*replicas.values())
        assert await gw.members_soon(topic) == everyone - {held[0].session}
        sentinel = await gw.claim(unique("sentinel-"))
        await gw.sub(sentinel, topic)
        await recorder.wait_for("join", sentinel.session)
        # The restart itself emitted nothing: no false join or leave.
        assert [(c.kind, c.session) for c in recorder.on(topic)[seen:]] == [
            ("join", sentinel.session)
        ]


STORM = 300
"""Sessions of the storm below; the leader is killed a third of the way in."""
STORM_IN_FLIGHT = 50


async def test_leader_sigkilled_in_a_claim_storm_leaves_every_session_owned_once(
    nats_server: Any, data_dir: Path, own_nc: NatsClient, topic: str
) -> None:
    recorder = Recorder()
    await recorder.start(own_nc)
    gw = GatewayDouble(own_nc)
    async with led_replicas(data_dir, nats_server.url, own_nc, ("storm-a", "storm-b")) as (
        replicas,
        kv,
    ):
        leader = await lease_holder(kv)
        assert leader is not None
        storm = ClaimStorm(own_nc, gw.node, topic, STORM, STORM_IN_FLIGHT)

        async def kill_the_leader() -> None:
            await storm.third.wait()
            await asyncio.to_thread(replicas[leader].kill)

        sessions = storm.sessions
        async with gw.beating():
            await asyncio.gather(kill_the_leader(), storm.run())
            assert not replicas[leader].alive
            # Every session is owned once: by the connection that holds it, online.
            await storm.assert_owned_once(kv)
            assert await gw.members_soon(topic) == set(sessions)
            assert (await gw.heartbeat(sessions)).lost == []
            # Joins right: one per session once the survivor leads (re-sends repeat a
            # revision), no leave, and no connection was told to close.
            await recorder.wait(lambda: {c.session for c in recorder.on(topic)} == set(sessions))
            distinct = sorted((kind, session) for kind, session, _ in recorder.distinct(topic))
            assert distinct == sorted(("join", s) for s in sessions)
            assert recorder.takeovers == []
