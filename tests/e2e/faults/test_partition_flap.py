"""Partition heal flap: a gateway's path to NATS cut and healed every few seconds.

For ``DURATION`` seconds the links between ``gw-1`` and every NATS node go down
for ``PERIOD`` seconds and up for ``PERIOD`` seconds, over and over, under a
steady stream. Each cut may make the node deaf (its clients move), each heal
brings it back. At the end, healed: nothing lost or twice at the wire, every
client connected and current, every gateway's connection count equal to the
clients really on it (no stuck connection), and once the clients are gone each
gateway runs no more asyncio tasks than before any client came (no leaked task).
"""

from __future__ import annotations

import asyncio
import time

import pytest

from haws.cluster import Gateway
from tests.e2e.chaos.probes import metrics, status
from tests.e2e.chaos.sizes import FleetSize
from tests.e2e.faults.conftest import FaultHarness
from tests.e2e.faults.placement import FaultSpec
from tests.e2e.faults.sizes import ACK_WAIT, sizes
from tests.support.waiting import eventually

PERIOD = 3.0
DURATION = 60.0
SIZES = sizes(
    FleetSize(clients=24, messages=700, rate=10.0), FleetSize(clients=100, messages=1900, rate=10.0)
)
SPEC = FaultSpec(nats=3, gateways=3, replay=1, gateway_args=("--consul-ttl", "2"))
TASK_SLACK = 3
"""Tasks a node may hold beyond its idle count: a scrape and a probe in flight."""


async def _ready(gateway: Gateway) -> bool:
    return await status(f"{gateway.http_url}/ready") == 200


async def gauge(gateway: Gateway, name: str) -> float:
    return (await metrics(gateway.http_url)).get(name, -1.0)


@pytest.mark.parametrize("size", SIZES)
async def test_a_flapping_link_loses_nothing_and_leaks_nothing(
    faults: FaultHarness, size: FleetSize
) -> None:
    cluster = await faults.start(SPEC)
    gw1, gw2, gw3 = cluster.gateways
    idle_tasks = {g.name: await gauge(g, "haws_gateway_asyncio_tasks") for g in cluster.gateways}
    topic = faults.topic("flap")
    fleet, stream = await faults.steady_fleet(
        topic, size, cluster.gateways, [gw2.ws_url, gw3.ws_url]
    )
    await stream.wait_acked(20, timeout=ACK_WAIT)
    started = time.monotonic()
    flaps = 0
    while time.monotonic() - started < DURATION:
        await faults.partition([gw1.name], cluster.nats_hosts())
        await asyncio.sleep(PERIOD)  # holding the fault for its length, not waiting for a state
        await faults.heal()
        flaps += 1
        await asyncio.sleep(PERIOD)  # the healed half of the period
    healed_at = time.monotonic() - PERIOD
    await eventually(lambda: _ready(gw1), timeout=30, message="gw-1 ready after the last heal")
    ready_after = time.monotonic() - healed_at

    await stream.finish()
    assert not stream.failures, stream.failures[:5]
    acked = stream.seqs
    assert len(acked) == len(set(acked)) == size.messages
    await fleet.wait_received(topic, set(acked), timeout=90)
    totals = fleet.verify(topic, acked)
    app_faults = fleet.application_faults(acked)
    stuck = [m.name for m in fleet.members if m.client.node is None]

    async def counts_match() -> bool:
        for g in cluster.gateways:
            on_it = len(fleet.on(g.name)) + (1 if stream.client.node == g.name else 0)
            if await gauge(g, "haws_gateway_connections") != on_it:
                return False
        return True

    await eventually(counts_match, timeout=30, message="gateways hold exactly their clients")
    moves = sum(m.connections - 1 for m in fleet.members)
    await fleet.close()
    await stream.client.close()

    async def idle_again() -> bool:
        for g in cluster.gateways:
            if await gauge(g, "haws_gateway_connections") != 0:
                return False
        return True

    await eventually(idle_again, timeout=30, message="every connection closed")
    end_tasks = {g.name: await gauge(g, "haws_gateway_asyncio_tasks") for g in cluster.gateways}
    leaked = {
        n: end_tasks[n] - idle_tasks[n]
        for n in idle_tasks
        if end_tasks[n] - idle_tasks[n] > TASK_SLACK
    }
    faults.emit(
        "partition-flap",
        size=str(size),
        **totals.counts(),
        rto_s=round(ready_after, 3),
        rpo=totals.lost,
        flaps=flaps,
        period_s=PERIOD,
        client_moves=moves,
        stuck=len(stuck),
        tasks_idle=idle_tasks,
        tasks_end=end_tasks,
        publish_retries=stream.client.stats.sent - stream.client.stats.acked,
        app_faults=len(app_faults),
    )
    assert totals.ok, (totals.evidence(), fleet.dump(list(totals.failed), topic))
    assert not app_faults, list(app_faults.items())[:5]
    assert not stuck, stuck
    assert not leaked, leaked
