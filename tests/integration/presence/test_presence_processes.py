"""Two presence replicas as real processes, launched as ``haws up`` launches them.

SIGKILL the leader: queries stay right, expiry goes on within a few seconds and
nothing leaves falsely. Then kill and restart both: the state, all in KV, survives.
SIGKILL the leader in the middle of a claim storm: every session is owned once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Container
from pathlib import Path
from typing import Any, TypeVar

import nats
import nats.errors
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.kv import KeyValue

from haws.cluster import HawsService
from haws.cluster.probe import http_get
from haws.cluster.services import backend_service
from haws.common import names
from haws.common import presence_protocol as pp
from haws.presence.lease import LeaseValue
from tests.integration.presence.presence_support import (
    FAST,
    FAST_FLAGS,
    GatewayDouble,
    Recorder,
    unique,
)
from tests.support.waiting import eventually

T = TypeVar("T")


def replica(data_dir: Path, nats_url: str, name: str) -> HawsService:
    return backend_service(
        data_dir, "presence", name=name, nats_url=nats_url, extra_args=["--name", name, *FAST_FLAGS]
    )


async def lease_holder(kv: KeyValue) -> str | None:
    """The replica named in the leader lease, if any."""
    entry = await kv.get(names.KV_PRESENCE_LEADER)
    value = LeaseValue.decode(entry.value or b"")
    return value.holder if value is not None else None


async def led_by_one_of(kv: KeyValue, replicas: Container[str]) -> bool:
    return await lease_holder(kv) in replicas


@contextlib.asynccontextmanager
async def led_replicas(
    data_dir: Path, nats_url: str, client: NatsClient, replica_names: tuple[str, ...]
) -> AsyncIterator[tuple[dict[str, HawsService], KeyValue]]:
    """Replica processes started, once one of them holds the lease; stopped after."""
    replicas = {n: replica(data_dir, nats_url, n) for n in replica_names}
    try:
        await start(*replicas.values())
        kv = await client.jetstream().key_value(names.KV_PRESENCE)
        await eventually(lambda: led_by_one_of(kv, replicas), timeout=5)
        yield replicas, kv
    finally:
        for r in replicas.values():
            await asyncio.to_thread(r.stop, 5.0)


async def start(*replicas: HawsService) -> None:
    await asyncio.gather(*(asyncio.to_thread(r.start, 30.0) for r in replicas))


@pytest.fixture
async def client(nats_server: Any) -> AsyncIterator[NatsClient]:
    nc = await nats.connect(nats_server.url)
    try:
        yield nc
    finally:
        await nc.close()


async def test_leader_sigkill_then_restart_of_both(
    nats_server: Any, data_dir: Path, client: NatsClient, topic: str
) -> None:
    recorder = Recorder()
    await recorder.start(client)
    gw = GatewayDouble(client)
    async with (
        led_replicas(data_dir, nats_server.url, client, ("pres-a", "pres-b")) as (
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


async def _until_answered(request: Callable[[], Awaitable[T]], ok: Callable[[T], bool]) -> T:
    """Retry as a gateway would after a reply lost with a dead replica (bounded)."""
    for _ in range(20):
        with contextlib.suppress(nats.errors.TimeoutError, nats.errors.NoRespondersError):
            answer = await request()
            if ok(answer):
                return answer
    raise AssertionError("presence never answered")


async def test_leader_sigkilled_in_a_claim_storm_leaves_every_session_owned_once(
    nats_server: Any, data_dir: Path, client: NatsClient, topic: str
) -> None:
    recorder = Recorder()
    await recorder.start(client)
    gw = GatewayDouble(client)
    async with led_replicas(data_dir, nats_server.url, client, ("storm-a", "storm-b")) as (
        replicas,
        kv,
    ):
        leader = await lease_holder(kv)
        assert leader is not None
        sessions = [unique(f"st{i}-") for i in range(STORM)]
        owners: dict[str, tuple[str, int]] = {}
        third = asyncio.Event()
        slots = asyncio.Semaphore(STORM_IN_FLIGHT)

        async def request(message: Any, reply: type[T]) -> T:
            subject = (
                names.PRESENCE_CLAIM if isinstance(message, pp.Claim) else names.PRESENCE_EVENT
            )
            raw = await client.request(subject, pp.encode(message), timeout=1.0)
            return pp.decode(reply, raw.data)

        async def connect(session: str) -> None:
            async with slots:
                conn = unique("c-")
                claim = pp.Claim(session, gw.node, conn)
                claimed = await _until_answered(
                    lambda: request(claim, pp.ClaimReply), lambda r: r.epoch > 0
                )
                sub = pp.Event("sub", session, gw.node, conn, claimed.epoch, topic)
                await _until_answered(lambda: request(sub, pp.EventReply), lambda r: r.ok)
                owners[session] = (conn, claimed.epoch)
                if len(owners) == STORM // 3:
                    third.set()

        async def kill_the_leader() -> None:
            await third.wait()
            await asyncio.to_thread(replicas[leader].kill)

        async with gw.beating():
            await asyncio.gather(kill_the_leader(), *(connect(s) for s in sessions))
            assert not replicas[leader].alive
            # Every session is owned once: by the connection that holds it, online.
            for session in sessions:
                entry = await kv.get(names.presence_owner_key(session))
                assert entry.value is not None
                record = pp.decode(pp.OwnerRecord, entry.value)
                conn, epoch = owners[session]
                assert (record.node, record.conn, record.epoch) == (gw.node, conn, epoch)
                assert record.online
                assert record.topics == [topic]
            assert await gw.members_soon(topic) == set(sessions)
            assert (await gw.heartbeat(sessions)).lost == []
            # Joins right: one per session once the survivor leads (re-sends repeat a
            # revision), no leave, and no connection was told to close.
            await recorder.wait(lambda: {c.session for c in recorder.on(topic)} == set(sessions))
            distinct = sorted((kind, session) for kind, session, _ in recorder.distinct(topic))
            assert distinct == sorted(("join", s) for s in sessions)
            assert recorder.takeovers == []
