"""Half-open clients: the path between the clients and their gateway drops, no FIN, no reset.

Both ends must find out on their own: the SDK by its application ``ping``
(``PING_INTERVAL`` + ``PING_TIMEOUT``), the gateway by its WebSocket ping
(``--heartbeat``; a peer that does not answer within half of it is closed).
The SDK clients resume on the other gateway with nothing lost, and since they
are back within the presence grace period an observer sees neither a leave nor
a join for them. A raw client that never comes back leaves, but only after the
gateway noticed and the grace period ran out.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.e2e.chaos.report import timings
from tests.e2e.chaos.sizes import FleetSize
from tests.e2e.chaos.stream import SteadyStream
from tests.e2e.faults.conftest import FaultHarness
from tests.e2e.faults.placement import FaultSpec
from tests.e2e.faults.sizes import ACK_WAIT, sizes
from tests.support.waiting import eventually

SIZES = sizes(
    FleetSize(clients=16, messages=200, rate=20.0), FleetSize(clients=100, messages=600, rate=30.0)
)
HEARTBEAT = 2.0
GRACE = 5.0
PING_INTERVAL = 1.0
PING_TIMEOUT = 1.0
SPEC = FaultSpec(
    nats=1,
    gateways=2,
    replay=1,
    presence=1,
    gateway_args=("--heartbeat", str(HEARTBEAT), "--consul-ttl", "2"),
    presence_args=("--grace", str(GRACE)),
)
PRESENCE_MEMBERS = 4
SLACK = 3.0
"""Seconds for a close, a connect and a resume on a loaded 2-core machine."""


def closes_on(log: Path, sessions: set[str]) -> dict[str, float]:
    """Wall-clock time of each ``ws.close`` of ``sessions`` in a gateway's log."""
    found: dict[str, float] = {}
    for line in log.read_text(errors="replace").splitlines():
        if '"ws.close"' not in line:
            continue
        event = json.loads(line)
        if event.get("session") in sessions:
            found[event["session"]] = float(event["ts"])
    return found


@pytest.mark.parametrize("size", SIZES)
async def test_clients_cut_without_a_fin_resume_and_presence_waits_for_the_grace(
    faults: FaultHarness, size: FleetSize
) -> None:
    cluster = await faults.start(SPEC)
    gw1, gw2 = cluster.gateways
    topic = faults.topic("half-open")
    room = f"{topic}.room"
    fleet = faults.fleet()
    await fleet.open(
        size.clients, cluster.gateways, ping_interval=PING_INTERVAL, ping_timeout=PING_TIMEOUT
    )
    await fleet.subscribe(topic)
    # Presence members on a topic of their own: an SDK presence subscription is
    # restored by ``sub since`` after the hello, which repeats at the wire what the
    # session record's older cursor restored first (deduped by the SDK, counted here).
    members = faults.fleet("p")
    await members.open(
        PRESENCE_MEMBERS, cluster.gateways, ping_interval=PING_INTERVAL, ping_timeout=PING_TIMEOUT
    )
    for member in members.members:
        await member.client.subscribe(room, presence=True)
    stranded, stranded_welcome = await faults.raw(gw1.ws_url)
    await stranded.sub(room, presence=True)
    observer, _ = await faults.raw(gw2.ws_url)
    await observer.sub(room, presence=True)
    publisher = faults.client([gw2.ws_url], name="publisher")
    await publisher.connect()
    stream = SteadyStream(
        publisher, topic, size.messages, size.rate, deadline=size.messages / size.rate + 60
    )
    stream.start()
    await stream.wait_acked(size.messages // 3, timeout=ACK_WAIT)
    cut_sessions = {
        m.client.session for m in [*fleet.on(gw1.name), *members.on(gw1.name)] if m.client.session
    }
    moved = [m.name for m in fleet.on(gw1.name)]
    presence_before = len(observer.others)

    await faults.cut(cluster.client.name, gw1.name)
    cut_at, cut_wall = time.monotonic(), time.time()
    everyone = [*fleet.members, *members.members]
    welcomes = {m.name: m.connections for m in everyone}
    cut_off = {*moved, *(m.name for m in members.on(gw1.name))}

    await eventually(
        lambda: all(m.connections > welcomes[m.name] for m in everyone if m.name in cut_off),
        timeout=PING_INTERVAL + PING_TIMEOUT + SLACK + 10,
        message="the cut clients reconnected",
    )
    sdk_detect = {
        m.name: (faults.log.welcomed_at(m.name, m.connections) or cut_at) - cut_at
        for m in everyone
        if m.name in cut_off
    }
    stranded_session = str(stranded_welcome["session"])

    def stranded_left() -> bool:
        return any(
            f.get("op") == "leave" and f["who"]["session"] == stranded_session
            for f in observer.others
        )

    await eventually(stranded_left, timeout=HEARTBEAT * 1.5 + GRACE + 3 + SLACK * 2)
    left_after = time.monotonic() - cut_at

    await stream.finish()
    assert not stream.failures, stream.failures[:5]
    acked = stream.seqs
    await fleet.wait_received(topic, set(acked), timeout=60)
    totals = fleet.verify(topic, acked)
    app_faults = fleet.application_faults(acked)
    marker = stream.first_sent_after(cut_at)
    assert marker is not None
    arrivals = [faults.log.arrival(name, topic, marker.seq) for name in moved]
    resumed = [a - cut_at for a in arrivals if a is not None]
    closed = closes_on(gw1.log_path, {*cut_sessions, stranded_session})
    server_detect = [ts - cut_wall for ts in closed.values()]
    # Only the stranded client is not taken over by a resume elsewhere: its close
    # is the gateway's heartbeat at work.
    stranded_detect = closed.get(stranded_session, cut_wall + 999.0) - cut_wall
    presence_changes = [
        f for f in observer.others[presence_before:] if f.get("op") in ("join", "leave")
    ]
    sdk_churn = [f for f in presence_changes if f["who"]["session"] in cut_sessions]
    faults.emit(
        "half-open",
        size=str(size),
        **totals.counts(),
        rto_s=round(max(resumed), 3) if resumed else None,
        rpo=0 if totals.lost == 0 else totals.lost,
        moved=len(moved),
        sdk_detect=timings(list(sdk_detect.values())),
        server_detect=timings(server_detect),
        server_closed=f"{len(closed)}/{len(cut_sessions) + 1}",
        stranded_server_detect_s=round(stranded_detect, 3),
        stranded_leave_s=round(left_after, 3),
        presence_churn_of_resumed=len(sdk_churn),
        app_faults=len(app_faults),
    )
    assert totals.ok, (totals.evidence(), fleet.dump(list(totals.failed), topic))
    assert not app_faults, list(app_faults.items())[:5]
    assert len(resumed) == len(moved)
    assert max(sdk_detect.values()) < PING_INTERVAL + PING_TIMEOUT + SLACK
    assert len(closed) == len(cut_sessions) + 1, "the gateway did not close every dead peer"
    assert stranded_detect < HEARTBEAT * 1.5 + SLACK
    assert left_after >= GRACE, "the leave came before the grace period ran out"
    assert not sdk_churn, sdk_churn
