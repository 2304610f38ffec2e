"""Consul lost: the Consul agent unreachable from every host for ``OUTAGE`` seconds.

Consul is discovery only, never on the message path: the gateways keep serving
their clients and accepting new ones (the steady stream goes on, a new raw
client subscribes and receives, a new SDK client with discovery connects by its
seeds and publishes). Discovery falls back as documented: ``/v1/gateways``
answers 503 and the SDK keeps its seed list. ``/ready`` follows its contract
(registered in Consul) and so reports 503 meanwhile. When Consul is back every
gateway registers again; RTO here is the time from the heal until every gateway
is on Consul's passing list and ``/ready`` again.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from haws.cluster import Gateway
from tests.e2e.chaos.probes import status
from tests.e2e.chaos.sizes import FleetSize
from tests.e2e.faults.conftest import FaultHarness
from tests.e2e.faults.placement import FaultSpec
from tests.e2e.faults.probes import passing_gateways
from tests.e2e.faults.sizes import ACK_WAIT, sizes
from tests.support.waiting import eventually

OUTAGE = 30.0
SIZES = sizes(
    FleetSize(clients=16, messages=450, rate=10.0), FleetSize(clients=100, messages=900, rate=15.0)
)
SPEC = FaultSpec(nats=1, gateways=2, replay=1, gateway_args=("--consul-ttl", "2"))


@pytest.mark.parametrize("size", SIZES)
async def test_gateways_serve_through_a_consul_outage_and_register_again(
    faults: FaultHarness, size: FleetSize
) -> None:
    cluster = await faults.start(SPEC)
    gw1, gw2 = cluster.gateways
    consul_http = cluster.consul.http_url
    every = {g.name for g in cluster.gateways}
    topic = faults.topic("consul-lost")
    fleet, stream = await faults.steady_fleet(
        topic, size, cluster.gateways, [gw1.ws_url, gw2.ws_url]
    )
    await eventually(lambda: _all_passing(consul_http, every), timeout=15)
    await stream.wait_acked(size.messages // 6, timeout=ACK_WAIT)

    await faults.isolate(cluster.consul.name)
    lost_at = time.monotonic()
    acked_before = len(stream.acks)
    newcomer, _ = await faults.raw(gw2.ws_url)
    await newcomer.sub(topic)
    discovering = faults.client([gw1.ws_url, gw2.ws_url], discover=True)
    await discovering.connect()
    probe = await discovering.publish(f"{topic}.probe", "during the outage", mid="outage-1")
    gateways_status = await status(f"{gw1.http_url}/v1/gateways")
    await newcomer.wait_msgs(topic, 3, timeout=15)
    ready_during = [await status(f"{g.http_url}/ready") for g in cluster.gateways]
    remaining = OUTAGE - (time.monotonic() - lost_at)
    if remaining > 0:
        await asyncio.sleep(remaining)  # holding the fault for its length, not waiting for a state
    acked_during = len(stream.acks) - acked_before
    await faults.heal()
    healed_at = time.monotonic()
    await eventually(
        lambda: _all_passing(consul_http, every), timeout=30, message="every gateway re-registered"
    )
    registered_after = time.monotonic() - healed_at
    await eventually(lambda: _all_ready(cluster.gateways), timeout=30, message="ready again")
    ready_after = time.monotonic() - healed_at

    await stream.finish()
    assert not stream.failures, stream.failures[:5]
    acked = stream.seqs
    assert len(acked) == len(set(acked)) == size.messages
    await fleet.wait_received(topic, set(acked), timeout=60)
    totals = fleet.verify(topic, acked)
    app_faults = fleet.application_faults(acked)
    faults.emit(
        "consul-lost",
        size=str(size),
        **totals.counts(),
        rto_s=round(max(registered_after, ready_after), 3),
        rpo=totals.lost,
        outage_s=round(healed_at - lost_at, 3),
        acked_during=acked_during,
        reregistered_s=round(registered_after, 3),
        ready_again_s=round(ready_after, 3),
        ready_during=ready_during,
        gateways_http_during=gateways_status,
        reconnects=sum(m.connections - 1 for m in fleet.members),
        app_faults=len(app_faults),
    )
    assert totals.ok, (totals.evidence(), fleet.dump(list(totals.failed), topic))
    assert not app_faults, list(app_faults.items())[:5]
    # Paced publishing falls behind on a loaded machine anyway: half the rate still
    # tells a stream that went on from one that stalled.
    assert acked_during >= OUTAGE * size.rate * 0.5, "publishing stalled without Consul"
    assert probe.seq > 0
    assert gateways_status == 503
    assert all(m.connections == 1 for m in fleet.members), "clients were moved by a Consul outage"


async def _all_passing(consul_http: str, nodes: set[str]) -> bool:
    return nodes <= await passing_gateways(consul_http)


async def _all_ready(gateways: list[Gateway]) -> bool:
    statuses = [await status(f"{g.http_url}/ready") for g in gateways]
    return all(s == 200 for s in statuses)
