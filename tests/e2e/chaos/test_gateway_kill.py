"""(a) SIGKILL one of three gateways while a fleet of SDK clients receives a steady stream.

Every client must end with every acked message exactly once, in order, with an
unbroken prev chain, counted at the wire (before SDK dedupe). A moved client's
resume time runs from the kill to the arrival of the first message published
after the kill: from then on it holds everything stored before the kill too.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from haws.cluster import ClusterSpec
from tests.e2e.chaos.conftest import Harness
from tests.e2e.chaos.report import timings
from tests.e2e.chaos.sizes import FleetSize, short_and_long

SIZES = short_and_long(
    FleetSize(clients=100, messages=150, rate=30.0), FleetSize(clients=300, messages=900, rate=40.0)
)
SPEC = ClusterSpec(nats=1, gateways=3, presence=0, replay=2, haproxy=False)


async def resume_times(
    harness: Harness, names: list[str], topic: str, marker_seq: int, killed_at: float
) -> dict[str, float]:
    times: dict[str, float] = {}
    for name in names:
        arrived = harness.log.arrival(name, topic, marker_seq)
        if arrived is not None:
            times[name] = arrived - killed_at
    return times


@pytest.mark.parametrize("size", SIZES)
async def test_sigkill_of_a_gateway_loses_and_duplicates_nothing(
    harness: Harness, size: FleetSize
) -> None:
    cluster = await harness.start_cluster(SPEC)
    survivor, _, victim = cluster.gateways
    topic = harness.topic("gateway-kill")
    fleet, stream = await harness.steady_fleet(cluster, topic, size, [survivor.ws_url])

    await stream.wait_acked(size.messages // 3)
    moved = [m.name for m in fleet.on(victim.name)]
    assert len(moved) >= size.clients // 3 - 1, "the fleet is not spread over the gateways"
    killed_at = time.monotonic()
    await asyncio.to_thread(victim.kill)
    await stream.finish()
    assert not stream.failures, stream.failures[:5]
    acked = stream.seqs
    assert len(acked) == len(set(acked)) == size.messages
    await fleet.wait_received(topic, set(acked), timeout=60)

    totals = fleet.verify(topic, acked)
    faults = fleet.application_faults(acked)
    marker = stream.first_sent_after(killed_at)
    assert marker is not None
    times = await resume_times(harness, moved, topic, marker.seq, killed_at)
    slowest = max(times, key=times.__getitem__) if times else None
    survivors_reconnected = [
        m.name for m in fleet.members if m.name not in moved and m.connections != 1
    ]
    harness.emit(
        "gateway-kill",
        size=str(size),
        **totals.counts(),
        moved=len(moved),
        resume=timings(list(times.values())),
        slowest={"client": slowest, "seconds": round(times[slowest], 3)} if slowest else None,
        app_faults=len(faults),
        others_reconnected=len(survivors_reconnected),
    )
    assert totals.ok, (totals.evidence(), fleet.dump(list(totals.failed), topic))
    assert not faults, list(faults.items())[:5]
    assert len(times) == len(moved)
    assert all(m.connections >= 2 for m in fleet.members if m.name in moved)
    assert not survivors_reconnected, "clients of the surviving nodes should not move"
