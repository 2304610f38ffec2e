"""docker-compose.yml for real: every healthcheck, then faults, judged from the host.

Clients connect only through HAProxy's published port, as a user's would.
Subscribers are the raw resuming clients of the e2e tests (``tests/support``):
reconnect, resume with ``session`` and ``cursors``; ``assert_exactly_once``
judges each one's wire record against the seqs the publisher saw acked (nothing
lost, nothing twice, in order, unbroken ``prev`` chain). The steady stream is
the chaos suite's (``SteadyStream``: the SDK, retrying with the same ``mid``).
The scenarios run in file order on one topology; each leaves it whole again
(every service healthy, HAProxy's pool of three UP), and the last one takes it
down with ``down -v``. The observability profile does not run: none of its
images has a faithful local stand-in (docs/deploy.md says why).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import time
from collections.abc import Sequence
from typing import Any
from uuid import uuid4

import pytest

from haws.client import Client
from haws.common import names
from tests.compose.clients import Arrivals, ClientPool
from tests.compose.figures import report
from tests.compose.podman import podman
from tests.compose.topology import CORE, GATEWAYS, NATS, Topology
from tests.e2e.chaos.probes import get_json, read_back
from tests.e2e.chaos.report import timings
from tests.e2e.chaos.stream import SteadyStream
from tests.support.resuming_client import ResumingClient, assert_exactly_once
from tests.support.wire_log import WireMsg, verify

pytestmark = pytest.mark.timeout(900)

SUBSCRIBERS = 9
RECEIVE_TIMEOUT = 90.0
POOL_TIMEOUT = 60.0
"""Seconds for HAProxy's pool of three to be UP again after a check blip."""
MAX_STREAM = 7500
"""Pubs a steady stream sends at most (5 min at 25/s); scenarios end it much sooner."""


def topic(scenario: str) -> str:
    return f"compose.{scenario}.{uuid4().hex[:8]}"


async def restore(topology: Topology, service: str) -> None:
    """``service`` started again and the whole topology healthy, HAProxy's pool whole."""
    await asyncio.to_thread(topology.start, service)
    await asyncio.to_thread(topology.wait_healthy, CORE)
    await asyncio.to_thread(topology.wait_pool_whole)


async def all_exactly_once(clients: Sequence[ResumingClient], topic: str, acked: set[int]) -> None:
    await asyncio.gather(*(c.wait_seqs(topic, acked, timeout=RECEIVE_TIMEOUT) for c in clients))
    for client in clients:
        assert_exactly_once(client, topic, acked)


def steady(publisher: Client, topic: str, rate: float = 25.0) -> SteadyStream:
    """A started stream at ``rate`` pubs/s until ``end()``; bounded by count and deadline."""
    stream = SteadyStream(publisher, topic, MAX_STREAM, rate, deadline=MAX_STREAM / rate)
    stream.start()
    return stream


async def ended_after(stream: SteadyStream, more: int, timeout: float = 90.0) -> set[int]:
    """``more`` acks past the current count, then the stream's end: every pub sent is
    acked once, one seq each; those seqs are what every subscriber must get."""
    await stream.wait_acked(len(stream.acks) + more, timeout=timeout)
    stream.end()
    await stream.finish()
    assert not stream.failures, stream.failures[:5]
    assert {a.mid for a in stream.acks} == stream.sent_mids, "a pub sent was never acked"
    seqs = stream.seqs
    assert len(seqs) == len(set(seqs)), "two pubs acked with one seq"
    return set(seqs)


# --- the scenarios, in order -----------------------------------------------------------


async def test_every_service_turns_healthy_and_haproxy_reaches_every_gateway(
    topology: Topology,
) -> None:
    assert not topology.unhealthy(CORE), topology.diagnosis()
    # HAProxy's check (1 s, fall 2) can take a gateway out for a moment on a
    # loaded machine; the pool must be whole again within the deadline.
    await asyncio.to_thread(topology.wait_pool_whole, POOL_TIMEOUT)
    listed = await get_json(f"{topology.http_url}/v1/gateways")
    assert sorted(g["node"] for g in listed) == list(GATEWAYS)
    assert {g["url"] for g in listed} == {topology.ws_url}
    report("healthy", seconds=round(topology.healthy_after or 0, 1), services=len(CORE))


async def test_the_network_is_the_runs_own_subnet_and_every_fixed_address_follows_it(
    topology: Topology,
) -> None:
    """HAWS_SUBNET reached the network, the fixed addresses, HAProxy's nameserver
    (the pool is whole only if it resolves through Consul at the derived address)
    and the gateways' trusted proxy."""
    assert topology.subnet is not None
    subnet = topology.subnet.network
    (network,) = topology.inventory.networks()
    inspected = json.loads(podman(topology.env, "network", "inspect", network))[0]
    assert [s["subnet"] for s in inspected["subnets"]] == [str(subnet)]
    prefix = topology.subnet.prefix
    assert topology.address("consul") == f"{prefix}.10"
    assert topology.address("haproxy") == f"{prefix}.30"
    for gateway in GATEWAYS:
        assert topology.address(gateway) == topology.addresses[gateway]
        assert ipaddress.ip_address(topology.addresses[gateway]) in subnet
        env = topology.environment(gateway)
        assert env["HAWS_HOST"] == topology.addresses[gateway]
        assert env["HAWS_TRUSTED_PROXIES"] == f"{prefix}.30"
    assert topology.environment("haproxy")["HAWS_CONSUL_DNS"] == f"{prefix}.10:8600"
    # The pool (the gateways' addresses in this /24) is UP only through Consul DNS.
    await asyncio.to_thread(topology.wait_pool_whole, POOL_TIMEOUT)
    report("subnet", subnet=str(subnet), given=topology.wanted_subnet is not None)


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
    publisher = await clients.publisher()
    spread = clients.by_node(subscribers)
    # Not the publisher's: its messages then say when the moved clients are back.
    victim = max((gw for gw in GATEWAYS if gw != publisher.node), key=lambda gw: spread[gw])
    moved = [c for c in subscribers if c.node == victim]
    assert moved, f"no subscriber on {victim}: {spread}"
    stream = steady(publisher, name)
    arrivals = Arrivals(moved, name)
    try:
        await stream.wait_acked(150)
        killed_at = time.monotonic()
        await asyncio.to_thread(topology.kill, victim)
        dead_at = time.monotonic()
        await asyncio.gather(*(c.wait_moved_off(victim, timeout=RECEIVE_TIMEOUT) for c in moved))
        acked = await ended_after(stream, 150)
        await all_exactly_once(subscribers, name, acked)
    finally:
        await stream.stop()
        await arrivals.stop()
    # From the moment the container died (podman's record) to the arrival of the
    # first message published after it: from then on a client holds everything.
    died = await asyncio.to_thread(topology.finished_at, victim)
    marker = stream.first_sent_after(time.monotonic() - (time.time() - died))
    assert marker is not None, "nothing was published after the kill"
    arrived = [arrivals.at(c, marker.seq) for c in moved]
    resume = [at - died for at in arrived if at is not None]
    assert len(resume) == len(moved), arrived
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
        kill_command_s=round(dead_at - killed_at, 3),
        resume_s=timings(resume),
        moved_close_codes=[c.close_codes for c in moved],
        publisher_dups=sum(1 for a in stream.acks if a.dup),
        publisher_reconnects=publisher.stats.reconnects,
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
    publisher = await clients.publisher()
    stream = steady(publisher, name)
    try:
        await stream.wait_acked(150)
        victim = await asyncio.to_thread(stream_leader, topology, NATS[0])
        killed_at = time.monotonic()
        await asyncio.to_thread(topology.kill, victim)
        dead_at = time.monotonic()
        acked = await ended_after(stream, 300)
    finally:
        await stream.stop()
    await all_exactly_once(subscribers, name, acked)
    stored = await read_back(topology.ws_url, name, timeout=30)
    history = verify([WireMsg.of(m) for m in stored], acked, first_prev=0)
    survivor = next(n for n in NATS if n != victim)
    new_leader = await asyncio.to_thread(stream_leader, topology, survivor)
    # Timed from the container's death (podman's record), not from the kill command,
    # which takes seconds of its own under load.
    died = await asyncio.to_thread(topology.finished_at, victim)
    death = time.monotonic() - (time.time() - died)
    after = sorted(a.at - death for a in stream.acks if a.sent > death)
    stalled = max((a.at - a.sent for a in stream.acks if a.at > death), default=None)
    report(
        "nats-kill",
        killed=victim,
        killed_was_leader=True,
        new_leader=new_leader,
        messages=len(acked),
        kill_command_s=round(dead_at - killed_at, 3),
        acked_after_kill=len(after),
        first_ack_after_death_s=round(after[0], 3) if after else None,
        longest_ack_wait_s=round(stalled, 3) if stalled is not None else None,
        history=history.counts(),
        publisher_retries=publisher.stats.sent - publisher.stats.acked,
    )
    assert after, "nothing published after the kill was acked"
    assert history.ok, history
    assert history.unexpected == 0, history
    assert new_leader != victim
    await restore(topology, victim)


async def test_a_rolling_restart_of_the_gateways_loses_nothing(
    topology: Topology, clients: ClientPool
) -> None:
    name = topic("rolling")
    subscribers = await clients.spread("sub", [name], 6)
    publisher = await clients.publisher()
    stream = steady(publisher, name)
    took: dict[str, dict[str, float]] = {}
    try:
        await stream.wait_acked(50)
        for gateway in GATEWAYS:
            started = time.monotonic()
            await asyncio.to_thread(topology.recreate, gateway)
            recreated = time.monotonic()
            await asyncio.to_thread(topology.wait_healthy, [gateway])
            healthy = time.monotonic()
            await asyncio.to_thread(topology.wait_pool_whole)
            took[gateway] = {
                "recreate": round(recreated - started, 1),
                "healthy": round(healthy - recreated, 1),
                "haproxy_up": round(time.monotonic() - healthy, 1),
            }
        restarted_at = time.monotonic()
        acked = await ended_after(stream, 50)
    finally:
        await stream.stop()
    await all_exactly_once(subscribers, name, acked)
    for client in subscribers:
        assert len(client.connections) >= 2, f"{client.name} never moved: {client.nodes}"
        assert all(c.resumed for c in client.connections[1:]), client.connections
    report(
        "rolling-restart",
        seconds=took,
        messages=len(acked),
        acked_after_last_restart=sum(1 for a in stream.acks if a.sent > restarted_at),
        moves=sum(len(c.connections) - 1 for c in subscribers),
        close_codes=sorted({code for c in subscribers for code in c.close_codes if code}),
        publisher_reconnects=publisher.stats.reconnects,
        publisher_dups=sum(1 for a in stream.acks if a.dup),
    )


def test_down_v_leaves_no_container_network_or_volume(topology: Topology) -> None:
    assert topology.inventory.volumes(), "the NATS volumes should exist before down -v"
    started = time.monotonic()
    topology.down()
    left = topology.inventory.leftovers()
    report("down", seconds=round(time.monotonic() - started, 1), left=left)
    assert left == {"containers": [], "networks": [], "volumes": []}
