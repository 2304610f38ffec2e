"""Site lost: two sites, each a gateway and a NATS node, and a third NATS node (with
Consul and replay) elsewhere; one whole site is cut off from everything (the
seed's "IDC down").

The lost site's NATS node holds the stream's leadership when the cut comes, and
the publisher starts on the lost site's gateway, so its unanswered publishes are
retried on the other site with the same ``mid``. The lost site's clients notice
by their ping, move to the other site's gateway and resume. RTO: from the cut
until the last moved client holds the first message published after it. RPO:
acked messages the stream lost (must be 0). After the heal the lost NATS node
catches up.
"""

from __future__ import annotations

import time

import pytest

from tests.e2e.chaos.probes import read_back
from tests.e2e.chaos.report import timings
from tests.e2e.chaos.sizes import FleetSize
from tests.e2e.faults.conftest import FaultHarness
from tests.e2e.faults.placement import FaultSpec
from tests.e2e.faults.probes import rpo
from tests.e2e.faults.sizes import ACK_WAIT, sizes
from tests.e2e.faults.test_nats_minority import lead_from, stream_state
from tests.support.waiting import eventually
from tests.support.wire_log import WireMsg, verify

SIZES = sizes(
    FleetSize(clients=24, messages=240, rate=20.0), FleetSize(clients=120, messages=900, rate=30.0)
)
SPEC = FaultSpec(nats=3, gateways=2, replay=1, attach=(0, 1), gateway_args=("--consul-ttl", "2"))
PING_INTERVAL = 1.0
PING_TIMEOUT = 1.0


@pytest.mark.parametrize("size", SIZES)
async def test_a_lost_site_loses_no_acked_message(faults: FaultHarness, size: FleetSize) -> None:
    cluster = await faults.start(SPEC)
    gw_a, gw_b = cluster.gateways
    nats_a = cluster.nats[0]
    site_a = [gw_a.name, nats_a.name]
    topic = faults.topic("site-lost")
    fleet, stream = await faults.steady_fleet(
        topic,
        size,
        cluster.gateways,
        [gw_a.ws_url, gw_b.ws_url],
        ping_interval=PING_INTERVAL,
        ping_timeout=PING_TIMEOUT,
    )
    await stream.wait_acked(size.messages // 4, timeout=ACK_WAIT)
    was_leader = await lead_from(cluster, nats_a.name)
    moved = [m.name for m in fleet.on(gw_a.name)]
    rest = [h for h in cluster.hosts if h not in site_a]

    await faults.partition(site_a, rest)
    cut_at = time.monotonic()
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
    majority = await stream_state(cluster.nats[1].monitor_url)

    async def caught_up() -> bool:
        state = await stream_state(nats_a.monitor_url)
        # The stream goes on growing (canary probes): at least where the majority was.
        return int(state.get("last_seq", 0)) >= int(majority.get("last_seq", 0))

    await eventually(caught_up, timeout=60, interval=0.5, message="the lost site caught up")
    caught_up_after = time.monotonic() - healed_at
    stored = [WireMsg.of(m) for m in await read_back(gw_b.ws_url, topic, timeout=30)]
    history = verify(stored, acked, first_prev=0)
    lost_acked = rpo(stream.acks, stored)
    faults.emit(
        "site-lost",
        size=str(size),
        **totals.counts(),
        rto_s=round(max(resumed), 3) if resumed else None,
        rpo=lost_acked,
        lost_site=site_a,
        lost_leader=was_leader,
        moved=len(moved),
        resume=timings(resumed),
        caught_up_s=round(caught_up_after, 3),
        publish_retries=stream.client.stats.sent - stream.client.stats.acked,
        history=history.counts(),
        app_faults=len(app_faults),
    )
    assert totals.ok, (totals.evidence(), fleet.dump(list(totals.failed), topic))
    assert not app_faults, list(app_faults.items())[:5]
    assert len(resumed) == len(moved)
    assert history.ok, history
    assert lost_acked == 0
