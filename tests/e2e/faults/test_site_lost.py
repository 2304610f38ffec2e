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

from tests.e2e.chaos.report import timings
from tests.e2e.chaos.sizes import FleetSize
from tests.e2e.faults.conftest import FaultHarness
from tests.e2e.faults.placement import FaultSpec
from tests.e2e.faults.probes import Cut, heal_and_judge, lead_from
from tests.e2e.faults.sizes import ACK_WAIT, sizes

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
    cut = Cut(cut_at, moved, nats_a.monitor_url, cluster.nats[1].monitor_url, gw_b.ws_url)
    heal = await heal_and_judge(faults, fleet, stream, topic, cut)
    faults.emit(
        "site-lost",
        size=str(size),
        **heal.counts(),
        lost_site=site_a,
        lost_leader=was_leader,
        moved=len(moved),
        resume=timings(heal.resumed),
        caught_up_s=round(heal.caught_up_s, 3),
        publish_retries=stream.client.stats.sent - stream.client.stats.acked,
        history=heal.history.counts(),
        app_faults=len(heal.app_faults),
    )
    totals = heal.totals
    assert totals.ok, (totals.evidence(), fleet.dump(list(totals.failed), topic))
    assert not heal.app_faults, list(heal.app_faults.items())[:5]
    assert len(heal.resumed) == len(moved)
    assert heal.history.ok, heal.history
    assert heal.rpo == 0
