"""(d) SIGKILL one server of a 3-node JetStream cluster (stream replicas 3) under publish load.

The server killed is the one most haws processes are connected to, made the
stream's leader first (a preferred-leader step-down): a leader election and
reconnects at once, the hardest case. No acked message may be lost: the fleet
gets every one exactly once at the wire, and a reader with ``since: 0`` at the
end finds each acked seq exactly once, in order. Every gateway and replay
replica that was connected to the dead server reconnects to another one (seen
in the survivors' ``/connz``) and every ``/ready`` is 200 again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError

from haws.cluster import ClusterSpec, LocalCluster, NatsServer
from haws.common import names
from tests.e2e.chaos.conftest import Harness
from tests.e2e.chaos.probes import nats_client_names, read_back, status
from tests.e2e.chaos.sizes import FleetSize, short_and_long
from tests.support.waiting import eventually
from tests.support.wire_log import WireMsg, verify

SIZES = short_and_long(
    FleetSize(clients=30, messages=300, rate=30.0), FleetSize(clients=150, messages=1200, rate=40.0)
)
SPEC = ClusterSpec(nats=3, gateways=3, presence=0, replay=2, haproxy=False)
HAWS_CLIENT = "haws-"
"""Prefix of the NATS client names of haws processes (``haws-gateway gw-1``...)."""


async def stream_leader(nc: NatsClient) -> str:
    info = await nc.jetstream(timeout=5).stream_info(names.STREAM)
    assert info.cluster is not None
    return str(info.cluster.leader)


async def haws_clients(server: NatsServer) -> list[str]:
    return [n for n in await nats_client_names(server.monitor_url) if n.startswith(HAWS_CLIENT)]


async def choose_victim(cluster: LocalCluster) -> tuple[NatsServer, bool, list[str]]:
    """The server most haws processes use, made the stream's leader first if it can be."""
    on = {s.name: await haws_clients(s) for s in cluster.nats.servers}
    victim = max(cluster.nats.servers, key=lambda s: len(on[s.name]))
    nc = await nats.connect(servers=cluster.nats.urls, connect_timeout=5)
    try:
        if await stream_leader(nc) != victim.name:
            request = {"placement": {"preferred": victim.name}}
            with contextlib.suppress(NatsError):
                await nc.request(
                    f"$JS.API.STREAM.LEADER.STEPDOWN.{names.STREAM}",
                    json.dumps(request).encode(),
                    timeout=5,
                )

            async def moved() -> bool:
                with contextlib.suppress(NatsError):
                    return await stream_leader(nc) == victim.name
                return False

            with contextlib.suppress(AssertionError):
                await eventually(moved, timeout=10, interval=0.2, message="leader moved")
        leader = await stream_leader(nc)
    finally:
        await nc.close()
    return victim, leader == victim.name, on[victim.name]


@pytest.mark.parametrize("size", SIZES)
async def test_a_nats_server_killed_under_load_loses_no_acked_message(
    harness: Harness, size: FleetSize
) -> None:
    cluster = await harness.start_cluster(SPEC)
    gw1, gw2, _ = cluster.gateways
    topic = harness.topic("nats-kill")
    fleet, stream = await harness.steady_fleet(cluster, topic, size, [gw1.ws_url, gw2.ws_url])

    await stream.wait_acked(size.messages // 3)
    victim, was_leader, moved = await choose_victim(cluster)
    killed_at = time.monotonic()
    await asyncio.to_thread(victim.kill)
    survivors = [s for s in cluster.nats.servers if s is not victim]
    services = [*cluster.gateways, *cluster.replay]

    async def back() -> bool:
        statuses = await asyncio.gather(*(status(f"{s.http_url}/ready") for s in services))
        if any(code != 200 for code in statuses):
            return False
        found = {n for s in survivors for n in await haws_clients(s)}
        return set(moved) <= found

    await eventually(back, timeout=60, interval=0.2, message="every service back on a live server")
    recovered_after = time.monotonic() - killed_at
    await stream.finish()
    assert not stream.failures, stream.failures[:5]
    acked = stream.seqs
    assert len(acked) == len(set(acked)) == size.messages
    await fleet.wait_received(topic, set(acked), timeout=60)
    totals = fleet.verify(topic, acked)
    faults = fleet.application_faults(acked)
    stored = await read_back(gw2.ws_url, topic, timeout=30)
    from_history = verify([WireMsg.of(m) for m in stored], acked, first_prev=0)
    harness.emit(
        "nats-kill",
        size=str(size),
        **totals.counts(),
        killed=victim.name,
        killed_leader=was_leader,
        reconnected=moved,
        back_after_s=round(recovered_after, 3),
        publish_retries=stream.client.stats.sent - stream.client.stats.acked,
        history=from_history.counts(),
        app_faults=len(faults),
    )
    assert totals.ok, (totals.evidence(), fleet.dump(list(totals.failed), topic))
    assert not faults, list(faults.items())[:5]
    assert from_history.ok, from_history
    assert from_history.unexpected == 0, from_history
