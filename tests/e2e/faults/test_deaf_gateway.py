"""Deaf gateway: one gateway cut from every NATS node while its clients stay on it.

The NATS client on the deaf node reports connected until its pings run out
(5 s x 2); its backplane canary notices first (bound 3 s). Within
``TOLD_BOUND`` of the cut its clients get ``reconnect`` then 4000; it fails
``/ready`` and leaves Consul's passing list; the clients resume on the other
gateways with every acked message exactly once and in order (counted at the
wire). RTO: from the cut until the last moved client holds the first message
published after it. RPO: acked messages the stream does not hold (must be 0).
"""

from __future__ import annotations

import time

import pytest

from tests.e2e.chaos.probes import metrics, read_back, status, total
from tests.e2e.chaos.report import timings
from tests.e2e.chaos.sizes import FleetSize
from tests.e2e.faults.conftest import FaultHarness
from tests.e2e.faults.placement import FaultSpec
from tests.e2e.faults.probes import is_not_passing, is_passing, rpo
from tests.e2e.faults.sizes import ACK_WAIT, sizes
from tests.support.waiting import eventually
from tests.support.wire_log import WireMsg

SIZES = sizes(
    FleetSize(clients=24, messages=150, rate=20.0),
    FleetSize(clients=150, messages=600, rate=30.0),
    short_in_suite=True,
)
SPEC = FaultSpec(nats=3, gateways=3, replay=1, gateway_args=("--consul-ttl", "2"))
TOLD_BOUND = 10.0
"""Seconds from the cut until the deaf node's clients are told to move (docs/reliability.md)."""
WATCHERS = 3


@pytest.mark.parametrize("size", SIZES)
async def test_a_gateway_cut_from_nats_moves_its_clients_and_loses_nothing(
    faults: FaultHarness, size: FleetSize
) -> None:
    cluster = await faults.start(SPEC)
    gw1, gw2, victim = cluster.gateways
    topic = faults.topic("deaf")
    fleet, stream = await faults.steady_fleet(
        topic, size, cluster.gateways, [gw1.ws_url, gw2.ws_url]
    )
    watchers = [(await faults.raw(victim.ws_url))[0] for _ in range(WATCHERS)]
    await eventually(lambda: is_passing(cluster.consul.http_url, victim.name), timeout=15)
    await stream.wait_acked(size.messages // 3, timeout=ACK_WAIT)
    moved = [m.name for m in fleet.on(victim.name)]
    assert len(moved) >= size.clients // 3 - 1, "the fleet is not spread over the gateways"

    await faults.partition([victim.name], cluster.nats_hosts())
    cut_at = time.monotonic()  # once every rule is in: what is sent later is cut off
    told: list[float] = []
    codes: list[int | None] = []
    for watcher in watchers:
        reconnect = await watcher.recv("reconnect", timeout=TOLD_BOUND + 10)
        told.append(time.monotonic() - cut_at)
        assert reconnect["reason"] == "drain"
        codes.append(await watcher.wait_closed())
    assert await status(f"{victim.http_url}/ready") == 503
    await eventually(
        lambda: is_not_passing(cluster.consul.http_url, victim.name),
        timeout=TOLD_BOUND,
        message="the deaf gateway left Consul's passing list",
    )
    left_consul_s = time.monotonic() - cut_at
    samples = await metrics(victim.http_url)

    await stream.finish()
    assert not stream.failures, stream.failures[:5]
    acked = stream.seqs
    assert len(acked) == len(set(acked)) == size.messages
    await fleet.wait_received(topic, set(acked), timeout=60)
    totals = fleet.verify(topic, acked)
    app_faults = fleet.application_faults(acked)
    marker = stream.first_sent_after(cut_at)
    assert marker is not None
    arrivals = [faults.log.arrival(name, topic, marker.seq) for name in moved]
    resumed = [a - cut_at for a in arrivals if a is not None]
    stored = [WireMsg.of(m) for m in await read_back(gw1.ws_url, topic, timeout=30)]
    lost_acked = rpo(stream.acks, stored)
    faults.emit(
        "deaf-gateway",
        size=str(size),
        **totals.counts(),
        rto_s=round(max(resumed), 3) if resumed else None,
        rpo=lost_acked,
        told_s=round(max(told), 3),
        left_consul_s=round(left_consul_s, 3),
        moved=len(moved),
        resume=timings(resumed),
        canary_cut_nats_up=samples.get(
            'haws_gateway_canary_deaf_total{cause="cut",nats="up"}', 0.0
        ),
        app_faults=len(app_faults),
    )
    assert codes == [4000] * WATCHERS, codes
    assert total(samples, "haws_gateway_canary_deaf_total") == 1
    assert max(told) < TOLD_BOUND, told
    assert totals.ok, (totals.evidence(), fleet.dump(list(totals.failed), topic))
    assert not app_faults, list(app_faults.items())[:5]
    assert len(resumed) == len(moved)
    assert lost_acked == 0
