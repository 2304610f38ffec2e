"""(e) A replay replica SIGKILLed during a reconnect storm.

A gateway holding a third of the fleet is SIGKILLed; once the first of its
clients is back on another node (the storm has begun, resumes are asking the
replay service for history), one of the two replay replicas is SIGKILLed too.
Every client must still resume completely: every acked message exactly once, in
order, at the wire. The gateways' counters show whether history came from the
replay service, the surviving replica, or the direct fallback.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from haws.cluster import ClusterSpec
from tests.e2e.chaos.conftest import Harness
from tests.e2e.chaos.probes import metrics, total
from tests.e2e.chaos.report import timings
from tests.e2e.chaos.sizes import FleetSize, short_and_long
from tests.support.waiting import eventually

SIZES = short_and_long(
    FleetSize(clients=100, messages=200, rate=30.0), FleetSize(clients=300, messages=900, rate=40.0)
)
SPEC = ClusterSpec(nats=1, gateways=3, presence=0, replay=2, haproxy=False)


@pytest.mark.parametrize("size", SIZES)
async def test_a_replay_replica_killed_in_a_reconnect_storm_loses_nothing(
    harness: Harness, size: FleetSize
) -> None:
    cluster = await harness.start_cluster(SPEC)
    survivor, other, victim = cluster.gateways
    doomed_replay, spare_replay = cluster.replay
    topic = harness.topic("replay-kill")
    fleet, stream = await harness.steady_fleet(cluster, topic, size, [survivor.ws_url])

    await stream.wait_acked(size.messages // 3)
    movers = fleet.on(victim.name)
    killed_at = time.monotonic()
    await asyncio.to_thread(victim.kill)
    await eventually(
        lambda: any(m.connections >= 2 for m in movers),
        timeout=30,
        interval=0.005,
        message="the first resume of the storm",
    )
    storm_started = time.monotonic() - killed_at
    await asyncio.to_thread(doomed_replay.kill)
    replay_killed = time.monotonic() - killed_at
    resumed_before = sum(1 for m in movers if m.connections >= 2)

    await stream.finish()
    assert not stream.failures, stream.failures[:5]
    acked = stream.seqs
    assert len(acked) == len(set(acked)) == size.messages
    await fleet.wait_received(topic, set(acked), timeout=60)
    totals = fleet.verify(topic, acked)
    faults = fleet.application_faults(acked)
    marker = stream.first_sent_after(killed_at)
    assert marker is not None
    times = [
        arrived - killed_at
        for m in movers
        if (arrived := harness.log.arrival(m.name, topic, marker.seq)) is not None
    ]
    gateway_counts = [await metrics(g.http_url) for g in (survivor, other)]
    spare = await metrics(spare_replay.http_url)
    harness.emit(
        "replay-kill",
        size=str(size),
        **totals.counts(),
        moved=len(movers),
        resumed_before_replay_kill=resumed_before,
        storm_started_s=round(storm_started, 3),
        replay_killed_s=round(replay_killed, 3),
        resume=timings(times),
        replay_reads=sum(total(c, "haws_gateway_replay_reads_total") for c in gateway_counts),
        replay_fallbacks={
            key.partition("{")[2].rstrip("}"): value
            for c in gateway_counts
            for key, value in c.items()
            if key.startswith("haws_gateway_replay_fallbacks_total")
        },
        spare_replay_requests=total(spare, "haws_replay_requests_total"),
        app_faults=len(faults),
    )
    assert totals.ok, (totals.evidence(), fleet.dump(list(totals.failed), topic))
    assert not faults, list(faults.items())[:5]
    assert len(times) == len(movers)
    assert resumed_before < len(movers), "the replica died after the storm, not during it"
