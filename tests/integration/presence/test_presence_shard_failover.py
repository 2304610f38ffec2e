"""Leader shards across two presence replicas, as real processes.

Each replica leads its share of the shards; SIGKILL one in the middle of a
connect storm and the survivor leads every shard within a lease ttl or two:
every session is owned once, joins once, has its ``connect`` stored once, and
the dead replica's shards go on expiring what closes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TypeVar

import nats
import pytest
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
)
from tests.support.event_log import EventLog
from tests.support.waiting import eventually

T = TypeVar("T")
SHARDS = 4
STORM = 300
STORM_IN_FLIGHT = 50
NAMES = ("shard-a", "shard-b")


async def holders(kv: KeyValue) -> list[str | None]:
    """The holder of each shard's lease, in shard order (None: no lease yet)."""
    out: list[str | None] = []
    for shard in range(SHARDS):
        try:
            entry = await kv.get(names.presence_leader_key(shard, SHARDS))
        except nats.js.errors.KeyNotFoundError:
            out.append(None)
            continue
        value = LeaseValue.decode(entry.value or b"")
        out.append(value.holder if value is not None else None)
    return out


async def shards_led(service: HawsService) -> float | None:
    reply = await asyncio.to_thread(http_get, service.http_url + "/metrics", 2.0)
    if reply is None or reply[0] != 200:
        return None
    for line in reply[1].decode().splitlines():
        if line.startswith("haws_presence_shards_led "):
            return float(line.split()[1])
    return None


@pytest.fixture
async def sharded(
    nats_server: Any, data_dir: Path, own_nc: NatsClient
) -> AsyncIterator[tuple[dict[str, HawsService], KeyValue]]:
    """Two replicas with four shards, once each leads the two the roster gives it."""
    replicas = {
        n: replica(data_dir, nats_server.url, n, [f"--presence-shards={SHARDS}"]) for n in NAMES
    }
    try:
        await start(*replicas.values())
        kv = await own_nc.jetstream().key_value(names.KV_PRESENCE)
        # The roster in name order: shard k goes to the (k mod 2)-th replica.
        spread = [NAMES[k % 2] for k in range(SHARDS)]

        async def spread_out() -> bool:
            return await holders(kv) == spread

        await eventually(spread_out, timeout=15, message="the shards spread over both")
        yield replicas, kv
    finally:
        for r in replicas.values():
            await asyncio.to_thread(r.stop, 5.0)


async def test_each_replica_leads_its_share(
    sharded: tuple[dict[str, HawsService], KeyValue],
) -> None:
    replicas, _ = sharded
    for service in replicas.values():

        async def its_share(service: HawsService = service) -> bool:
            return await shards_led(service) == SHARDS / 2

        await eventually(its_share, timeout=5, message=f"{service.name} leads two shards")


async def test_a_replica_sigkilled_in_a_connect_storm_leaves_every_session_owned_once(
    sharded: tuple[dict[str, HawsService], KeyValue], own_nc: NatsClient, topic: str
) -> None:
    replicas, kv = sharded
    victim, survivor = NAMES
    recorder = Recorder()
    await recorder.start(own_nc)
    gw = GatewayDouble(own_nc)
    storm = ClaimStorm(own_nc, gw.node, topic, STORM, STORM_IN_FLIGHT)
    sessions = storm.sessions
    killed_at = 0.0

    async def kill_one() -> None:
        nonlocal killed_at
        await storm.third.wait()
        await asyncio.to_thread(replicas[victim].kill)
        killed_at = time.monotonic()

    async with EventLog(own_nc) as events, gw.beating():
        await asyncio.gather(kill_one(), storm.run())
        assert not replicas[victim].alive

        async def survivor_leads_all() -> bool:
            return await holders(kv) == [survivor] * SHARDS

        # The dead replica leaves the roster after a ttl; its leases, quiet for a
        # ttl, go to the survivor at its next tick.
        await eventually(survivor_leads_all, timeout=10, message="the survivor leads every shard")
        failover = time.monotonic() - killed_at
        assert failover < 2 * FAST["leader_ttl"] + 1.5, failover

        async def all_on_the_survivor() -> bool:
            return await shards_led(replicas[survivor]) == SHARDS

        await eventually(all_on_the_survivor, timeout=5, message="the survivor's gauge")

        await storm.assert_owned_once(kv)
        assert await gw.members_soon(topic) == set(sessions)
        # One join each (a shard's re-send repeats its revision), no leave, no takeover.
        await recorder.wait(lambda: {c.session for c in recorder.on(topic)} == set(sessions))
        distinct = sorted((kind, session) for kind, session, _ in recorder.distinct(topic))
        assert distinct == sorted(("join", s) for s in sessions)
        assert recorder.takeovers == []
        # Every shard's lifecycle events stored, each once (re-sends share their id).
        await eventually(
            lambda: all(events.kinds(s)[:2] == ["connect", f"join:{topic}"] for s in sessions),
            timeout=10,
            message="connect and join of every session in HAWS_EVENTS",
        )
        assert all(events.kinds(s) == ["connect", f"join:{topic}"] for s in sessions)

        # The dead replica's shards go on: closes leave after the grace, whatever the shard.
        closing = sessions[:8]
        await asyncio.gather(*(storm.close(s) for s in closing))
        for session in closing:
            await recorder.wait_for("leave", session, timeout=10)
        assert await gw.members_soon(topic) == set(sessions) - set(closing)
