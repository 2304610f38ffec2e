"""docker-compose.yml for real: every healthcheck, then faults, judged from the host.

Clients connect only through HAProxy's published port, as a user's would. They
are the raw resuming clients of the e2e tests (``tests/support``): reconnect,
resume with ``session`` and ``cursors``, retry an unacked ``pub`` with its
``mid``; ``assert_exactly_once`` judges each one's wire record against the seqs
the publisher saw acked (nothing lost, nothing twice, in order, unbroken
``prev`` chain). The scenarios run in file order on one topology; each leaves
it whole again (every service healthy, HAProxy's pool of three UP), and the
last one takes it down with ``down -v``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import Any
from uuid import uuid4

import pytest

from haws.common import names
from tests.compose.clients import ClientPool
from tests.compose.figures import report
from tests.compose.topology import CORE, GATEWAYS, NATS, Topology
from tests.e2e.chaos.probes import get_json, read_back
from tests.e2e.chaos.report import timings
from tests.support.resuming_client import ResumingClient, StreamPublisher, assert_exactly_once
from tests.support.wire_log import WireMsg, verify

pytestmark = pytest.mark.timeout(900)

SUBSCRIBERS = 9
STREAM_INTERVAL = 0.02
"""Seconds between pubs of the steady stream (4 in flight at most)."""
RECEIVE_TIMEOUT = 90.0


def topic(scenario: str) -> str:
    return f"compose.{scenario}.{uuid4().hex[:8]}"


async def restore(topology: Topology, service: str) -> None:
    """``service`` started again and the whole topology healthy, HAProxy's pool whole."""
    await asyncio.to_thread(topology.start, service)
    await asyncio.to_thread(topology.wait_healthy, CORE)
    await asyncio.to_thread(topology.wait_pool_whole)


async def resumed_at(client: ResumingClient, topic: str, seq: int, since: float) -> float:
    """Seconds from ``since`` until ``seq`` arrived at ``client``."""
    await client.wait_seqs(topic, {seq}, timeout=RECEIVE_TIMEOUT)
    return time.monotonic() - since


async def all_exactly_once(clients: Sequence[ResumingClient], topic: str, acked: set[int]) -> None:
    await asyncio.gather(*(c.wait_seqs(topic, acked, timeout=RECEIVE_TIMEOUT) for c in clients))
    for client in clients:
        assert_exactly_once(client, topic, acked)


class Stream:
    """A ``StreamPublisher`` run as a task this test owns: stopped and awaited in ``finish``."""

    def __init__(self, publisher: ResumingClient, topic: str) -> None:
        self.pubs = StreamPublisher(publisher, topic, interval=STREAM_INTERVAL, max_count=6000)
        self._task = asyncio.create_task(self.pubs.run(), name=f"stream {topic}")

    async def finish(self) -> set[int]:
        """Stop sending, wait for every pub in flight to be acked; the acked seqs."""
        self.pubs.stop.set()
        async with asyncio.timeout(60):
            await self._task
        seqs = self.pubs.seqs
        assert len(seqs) == len(self.pubs.acked), "two mids acked with one seq"
        return seqs

    async def cancel(self) -> None:
        if not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


# --- the scenarios, in order -----------------------------------------------------------


async def test_every_service_turns_healthy_and_haproxy_reaches_every_gateway(
    topology: Topology,
) -> None:
    assert not topology.unhealthy(CORE), topology.diagnosis()
    assert topology.pool_whole()
    listed = await get_json(f"{topology.http_url}/v1/gateways")
    assert sorted(g["node"] for g in listed) == list(GATEWAYS)
    assert {g["url"] for g in listed} == {topology.ws_url}
    report("healthy", seconds=round(topology.healthy_after or 0, 1), services=len(CORE))


async def test_two_clients_on_different_gateways_exchange_messages(
    topology: Topology, clients: ClientPool
) -> None:
    name = topic("pair")
    a, b = await clients.on_different_gateways([name])
    acked: set[int] = set()
    for i in range(20):
        sender = a if i % 2 == 0 else b
        ack = await sender.pub(name, {"i": i, "from": sender.name}, f"{sender.name}-{i}")
        assert not ack.get("dup"), ack
        acked.add(ack["seq"])
    await all_exactly_once([a, b], name, acked)
    report("pair", nodes=[a.node, b.node], messages=len(acked))


async def test_sigkill_of_a_gateway_under_a_steady_stream_loses_and_duplicates_nothing(
    topology: Topology, clients: ClientPool
) -> None:
    name = topic("gateway-kill")
    subscribers = await clients.spread("sub", [name], SUBSCRIBERS)
    publisher = await clients.open("publisher")
    spread = clients.by_node(subscribers)
    victim = max((gw for gw in GATEWAYS if gw != publisher.node), key=lambda gw: spread[gw])
    moved = [c for c in subscribers if c.node == victim]
    assert moved, f"no subscriber on {victim}: {spread}"
    stream = Stream(publisher, name)
    try:
        await stream.pubs.publish_more(50, timeout=30)
        killed_at = time.monotonic()
        await asyncio.to_thread(topology.kill, victim)
        kill_took = time.monotonic() - killed_at
        marker = await publisher.pub(name, {"marker": True}, f"marker-{uuid4().hex[:8]}")
        resume = await asyncio.gather(
            *(resumed_at(c, name, marker["seq"], killed_at) for c in moved)
        )
        await stream.pubs.publish_more(50, timeout=60)
        acked = await stream.finish() | {marker["seq"]}
    finally:
        await stream.cancel()
    await all_exactly_once(subscribers, name, acked)
    for client in moved:
        assert client.node != victim, client.connections
        assert client.connections[-1].resumed, client.connections
    others = [c.name for c in subscribers if c not in moved and len(c.connections) != 1]
    report(
        "gateway-kill",
        killed=victim,
        spread=dict(spread),
        moved=len(moved),
        messages=len(acked),
        kill_command_s=round(kill_took, 3),
        resume_s=timings(resume),
        publisher_dups=stream.pubs.dups,
    )
    assert not others, f"clients of the surviving gateways moved: {others}"
    await restore(topology, victim)


def stream_leader(topology: Topology, asked: str) -> str:
    """The NATS server leading the HAWS stream, from ``asked``'s monitoring endpoint."""
    url = "http://127.0.0.1:8222/jsz?accounts=true&streams=true"
    body: dict[str, Any] = json.loads(topology.exec(asked, "wget", "-q", "-O", "-", url))
    for account in body.get("account_details") or []:
        for stream in account.get("stream_detail") or []:
            if stream.get("name") == names.STREAM:
                return str(stream["cluster"]["leader"])
    raise AssertionError(f"stream {names.STREAM} not found on {asked}")


async def test_one_nats_container_killed_the_stream_keeps_accepting_and_delivering(
    topology: Topology, clients: ClientPool
) -> None:
    name = topic("nats-kill")
    subscribers = await clients.spread("sub", [name], 4)
    publisher = await clients.open("publisher")
    stream = Stream(publisher, name)
    try:
        await stream.pubs.publish_more(50, timeout=30)
        victim = await asyncio.to_thread(stream_leader, topology, NATS[0])
        killed_at = time.monotonic()
        await asyncio.to_thread(topology.kill, victim)
        await stream.pubs.publish_more(1, timeout=60)
        accepting_after = time.monotonic() - killed_at
        await stream.pubs.publish_more(100, timeout=90)
        acked = await stream.finish()
    finally:
        await stream.cancel()
    await all_exactly_once(subscribers, name, acked)
    stored = await read_back(topology.ws_url, name, timeout=30)
    history = verify([WireMsg.of(m) for m in stored], acked, first_prev=0)
    survivor = next(n for n in NATS if n != victim)
    new_leader = await asyncio.to_thread(stream_leader, topology, survivor)
    report(
        "nats-kill",
        killed=victim,
        killed_was_leader=True,
        new_leader=new_leader,
        messages=len(acked),
        first_ack_after_kill_s=round(accepting_after, 3),
        history=history.counts(),
        publisher_resent=publisher.resent,
    )
    assert history.ok, history
    assert history.unexpected == 0, history
    assert new_leader != victim
    await restore(topology, victim)


async def test_a_rolling_restart_of_the_gateways_loses_nothing(
    topology: Topology, clients: ClientPool
) -> None:
    name = topic("rolling")
    subscribers = await clients.spread("sub", [name], 6)
    publisher = await clients.open("publisher")
    stream = Stream(publisher, name)
    took: dict[str, float] = {}
    try:
        await stream.pubs.publish_more(30, timeout=30)
        for gateway in GATEWAYS:
            started = time.monotonic()
            await asyncio.to_thread(topology.recreate, gateway)
            await asyncio.to_thread(topology.wait_healthy, [gateway])
            await asyncio.to_thread(topology.wait_pool_whole)
            took[gateway] = round(time.monotonic() - started, 1)
            await stream.pubs.publish_more(20, timeout=60)
        acked = await stream.finish()
    finally:
        await stream.cancel()
    await all_exactly_once(subscribers, name, acked)
    for client in [*subscribers, publisher]:
        assert len(client.connections) >= 2, f"{client.name} never moved: {client.nodes}"
        assert all(c.resumed for c in client.connections[1:]), client.connections
    report(
        "rolling-restart",
        per_gateway_s=took,
        messages=len(acked),
        moves=sum(len(c.connections) - 1 for c in subscribers),
        close_codes=sorted({code for c in subscribers for code in c.close_codes if code}),
        publisher_dups=stream.pubs.dups,
    )


def test_down_v_leaves_no_container_network_or_volume(topology: Topology) -> None:
    assert topology.inventory.volumes(), "the NATS volumes should exist before down -v"
    started = time.monotonic()
    topology.down()
    left = topology.inventory.leftovers()
    report("down", seconds=round(time.monotonic() - started, 1), left=left)
    assert left == {"containers": [], "networks": [], "volumes": []}
