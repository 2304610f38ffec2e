"""NATS minority: one node of a 3-node JetStream cluster (R3 stream and KV) cut from the other two.

The cut node is made the stream's leader first (the hardest case: the leader is
on the minority side and must be replaced). Gateways and clients still reach
every NATS node; only the routes between the cut node and its peers drop. The
gateway attached to the cut node can store nothing (no quorum): its canary
finds out (cause ``no_quorum``), it fails ``/ready`` and its NATS client moves to
a majority node, while its clients stay and only wait. Every acked message
survives (nothing is acked that a majority did not store); after the heal the
node rejoins and holds the same stream.
"""

from __future__ import annotations

import time

import pytest

from tests.e2e.chaos.probes import metrics, nats_client_names, status
from tests.e2e.chaos.report import timings
from tests.e2e.chaos.sizes import FleetSize
from tests.e2e.faults.conftest import FaultHarness
from tests.e2e.faults.placement import FaultSpec
from tests.e2e.faults.probes import Cut, heal_and_judge, lead_from
from tests.e2e.faults.sizes import ACK_WAIT, sizes
from tests.support.waiting import eventually

SIZES = sizes(
    FleetSize(clients=24, messages=240, rate=20.0), FleetSize(clients=120, messages=900, rate=30.0)
)
SPEC = FaultSpec(nats=3, gateways=3, replay=1, gateway_args=("--consul-ttl", "2"))


@pytest.mark.parametrize("size", SIZES)
async def test_a_nats_node_cut_from_its_peers_loses_no_acked_message(
    faults: FaultHarness, size: FleetSize
) -> None:
    cluster = await faults.start(SPEC)
    gw1, gw2, gw3 = cluster.gateways
    minority = cluster.nats[2]  # gw-3 starts on it
    topic = faults.topic("minority")
    fleet, stream = await faults.steady_fleet(
        topic, size, cluster.gateways, [gw1.ws_url, gw2.ws_url]
    )
    await stream.wait_acked(size.messages // 4, timeout=ACK_WAIT)
    was_leader = await lead_from(cluster, minority.name)
    moved = [m.name for m in fleet.on(gw3.name)]

    others = [s.name for s in cluster.nats if s is not minority]
    await faults.partition([minority.name], others)
    cut_at = time.monotonic()
    majority = [s for s in cluster.nats if s is not minority]

    async def gw3_on_the_majority() -> bool:
        for server in majority:
            if f"haws-gateway {gw3.name}" in await nats_client_names(server.monitor_url):
                return True
        return False

    await eventually(gw3_on_the_majority, timeout=30, message="gw-3 moved to a majority node")
    gw3_moved_after = time.monotonic() - cut_at
    await eventually(
        lambda: _ready(gw3.http_url, 200), timeout=30, message="gw-3 ready on the majority"
    )
    gw3_back_after = time.monotonic() - cut_at
    samples = await metrics(gw3.http_url)
    cut = Cut(cut_at, moved, minority.monitor_url, cluster.nats[0].monitor_url, gw3.ws_url)
    heal = await heal_and_judge(faults, fleet, stream, topic, cut)
    faults.emit(
        "nats-minority",
        size=str(size),
        **heal.counts(),
        cut=minority.name,
        cut_leader=was_leader,
        gateway_moved_s=round(gw3_moved_after, 3),
        gateway_ready_s=round(gw3_back_after, 3),
        no_quorum_seen=samples.get(
            'haws_gateway_canary_deaf_total{cause="no_quorum",nats="up"}', 0.0
        ),
        client_moves=sum(m.connections - 1 for m in fleet.members),
        caught_up_s=round(heal.caught_up_s, 3),
        moved=len(moved),
        resume=timings(heal.resumed),
        publish_retries=stream.client.stats.sent - stream.client.stats.acked,
        history=heal.history.counts(),
        app_faults=len(heal.app_faults),
    )
    totals = heal.totals
    assert totals.ok, (totals.evidence(), fleet.dump(list(totals.failed), topic))
    assert not heal.app_faults, list(heal.app_faults.items())[:5]
    assert heal.history.ok, heal.history
    assert heal.history.unexpected == 0, heal.history
    assert heal.rpo == 0


async def _ready(http_url: str, want: int) -> bool:
    return await status(f"{http_url}/ready") == want
