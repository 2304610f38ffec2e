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

import contextlib
import json
import time
from typing import Any

import nats
import pytest
from nats.errors import Error as NatsError

from haws.common import names
from tests.e2e.chaos.probes import get_json, metrics, nats_client_names, read_back, status
from tests.e2e.chaos.report import timings
from tests.e2e.chaos.sizes import FleetSize
from tests.e2e.chaos.test_nats_kill import stream_leader
from tests.e2e.faults.conftest import FaultHarness
from tests.e2e.faults.placement import FaultCluster, FaultSpec
from tests.e2e.faults.probes import rpo
from tests.e2e.faults.sizes import ACK_WAIT, sizes
from tests.support.waiting import eventually
from tests.support.wire_log import WireMsg, verify

SIZES = sizes(
    FleetSize(clients=24, messages=240, rate=20.0), FleetSize(clients=120, messages=900, rate=30.0)
)
SPEC = FaultSpec(nats=3, gateways=3, replay=1, gateway_args=("--consul-ttl", "2"))


async def lead_from(cluster: FaultCluster, node: str) -> bool:
    """Ask the stream's leadership onto ``node``; whether it got there."""
    nc = await nats.connect(servers=[s.url for s in cluster.nats], connect_timeout=5)
    try:
        if await stream_leader(nc) != node:
            with contextlib.suppress(NatsError):
                await nc.request(
                    f"$JS.API.STREAM.LEADER.STEPDOWN.{names.STREAM}",
                    json.dumps({"placement": {"preferred": node}}).encode(),
                    timeout=5,
                )

            async def moved() -> bool:
                with contextlib.suppress(NatsError):
                    return await stream_leader(nc) == node
                return False

            with contextlib.suppress(AssertionError):
                await eventually(moved, timeout=10, interval=0.2, message="leader moved")
        return await stream_leader(nc) == node
    finally:
        await nc.close()


async def stream_state(monitor_url: str) -> dict[str, Any]:
    """The HAWS stream's state as one server holds it (its ``/jsz``)."""
    body = await get_json(f"{monitor_url}/jsz?streams=true")
    for account in body.get("account_details") or []:
        for stream in account.get("stream_detail") or []:
            if stream.get("name") == names.STREAM:
                return dict(stream.get("state") or {})
    return {}


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
    await stream.wait_acked(size.messages * 3 // 4, timeout=ACK_WAIT)
    await faults.heal()
    healed_at = time.monotonic()

    await stream.finish()
    assert not stream.failures, stream.failures[:5]
    acked = stream.seqs
    assert len(acked) == len(set(acked)) == size.messages
    await fleet.wait_received(topic, set(acked), timeout=ACK_WAIT)
    totals = fleet.verify(topic, acked)
    app_faults = fleet.application_faults(acked)
    marker = stream.first_sent_after(cut_at)
    assert marker is not None
    arrivals = [faults.log.arrival(name, topic, marker.seq) for name in moved]
    resumed = [a - cut_at for a in arrivals if a is not None]

    majority_state = await stream_state(cluster.nats[0].monitor_url)

    async def caught_up() -> bool:
        state = await stream_state(minority.monitor_url)
        # The stream goes on growing (canary probes): at least where the majority was.
        return int(state.get("last_seq", 0)) >= int(majority_state.get("last_seq", 0))

    await eventually(caught_up, timeout=60, interval=0.5, message="the cut node caught up")
    caught_up_after = time.monotonic() - healed_at
    stored = [WireMsg.of(m) for m in await read_back(gw3.ws_url, topic, timeout=30)]
    history = verify(stored, acked, first_prev=0)
    faults.emit(
        "nats-minority",
        size=str(size),
        **totals.counts(),
        rto_s=round(max(resumed), 3) if resumed else None,
        rpo=rpo(stream.acks, stored),
        cut=minority.name,
        cut_leader=was_leader,
        gateway_moved_s=round(gw3_moved_after, 3),
        gateway_ready_s=round(gw3_back_after, 3),
        no_quorum_seen=samples.get(
            'haws_gateway_canary_deaf_total{cause="no_quorum",nats="up"}', 0.0
        ),
        client_moves=sum(m.connections - 1 for m in fleet.members),
        caught_up_s=round(caught_up_after, 3),
        moved=len(moved),
        resume=timings(resumed),
        publish_retries=stream.client.stats.sent - stream.client.stats.acked,
        history=history.counts(),
        app_faults=len(app_faults),
    )
    assert totals.ok, (totals.evidence(), fleet.dump(list(totals.failed), topic))
    assert not app_faults, list(app_faults.items())[:5]
    assert history.ok, history
    assert history.unexpected == 0, history
    assert rpo(stream.acks, stored) == 0


async def _ready(http_url: str, want: int) -> bool:
    return await status(f"{http_url}/ready") == want
