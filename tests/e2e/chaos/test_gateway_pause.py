"""(b) SIGSTOP a gateway (half-open from its clients' side), later SIGCONT it.

* Its SDK clients notice within their heartbeat timeout (``ping_interval`` +
  ``ping_timeout``) and move to another node: the move time runs from the pause
  to the ``welcome`` of the new connection.
* Raw "zombie" clients stay connected to the frozen node, as a client on a path
  that did not break would; their sessions are resumed elsewhere while the node
  is frozen. Once it wakes, the old node must deliver nothing more on those old
  connections: it finds out (guarantee 5: a paused node checks with the presence
  service which sessions moved before it delivers anything) and closes them 4009.
* Nothing is lost or duplicated: at the application level, and at the wire when
  only frames that arrived on the connection that owned the session count.

Presence runs here (two replicas): it is what tells a node that woke up which of
its sessions moved.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from haws.cluster import ClusterSpec
from haws.protocol.errors import CloseCode
from tests.e2e.chaos.conftest import Harness
from tests.e2e.chaos.probes import metrics, total
from tests.e2e.chaos.report import timings
from tests.e2e.chaos.sizes import short_and_long
from tests.e2e.chaos.stream import SteadyStream
from tests.support.waiting import eventually
from tests.support.wire_log import Totals
from tests.support.ws_client import WsClient


@dataclass(frozen=True)
class Size:
    clients: int
    zombies: int
    messages: int
    rate: float

    def __str__(self) -> str:
        return f"{self.clients}c-{self.zombies}z-{self.messages}m"


SIZES = short_and_long(
    Size(clients=45, zombies=3, messages=300, rate=30.0),
    Size(clients=240, zombies=12, messages=900, rate=40.0),
)
SPEC = ClusterSpec(nats=1, gateways=3, presence=2, replay=2, haproxy=False)
PING_INTERVAL = 1.0
PING_TIMEOUT = 1.0
BACKOFF_BASE = 0.5
MOVE_SLACK = 2.5
"""Seconds for the close, the connect and the resume on a loaded 2-core machine."""
PAUSE_THRESHOLD = 3.0
"""The gateways' ``--pause-threshold`` default: a shorter freeze is not fenced."""
MIN_PAUSE = PAUSE_THRESHOLD + 1.0


@dataclass
class Zombie:
    name: str
    old: WsClient
    session: str
    start: int
    """``ok.seq`` of its subscription: the ``prev`` of its first message."""
    moved_after: int = 0
    """How many msg frames the old connection had when the session moved."""
    moved_cursor: int = 0
    """The cursor the session resumed from elsewhere."""
    new: WsClient | None = None

    def cursor(self, topic: str) -> int:
        msgs = self.old.msgs[topic]
        return msgs[-1]["seq"] if msgs else self.start


async def open_zombies(harness: Harness, url: str, topic: str, count: int) -> list[Zombie]:
    zombies = []
    for i in range(count):
        client, welcome = await harness.raw(url)
        ok = await client.sub(topic)
        zombies.append(Zombie(f"z{i}", client, welcome["session"], ok["seq"]))
    return zombies


@pytest.mark.parametrize("size", SIZES)
async def test_a_frozen_gateway_is_left_and_delivers_nothing_after_it_wakes(
    harness: Harness, size: Size
) -> None:
    cluster = await harness.start_cluster(SPEC)
    survivor, other, victim = cluster.gateways
    topic = harness.topic("gateway-pause")
    fleet = harness.fleet()
    await fleet.open(
        size.clients,
        cluster.gateways,
        ping_interval=PING_INTERVAL,
        ping_timeout=PING_TIMEOUT,
        backoff_base=BACKOFF_BASE,
    )
    await fleet.subscribe(topic)
    zombies = await open_zombies(harness, victim.ws_url, topic, size.zombies)
    publisher = harness.client([survivor.ws_url], name="publisher")
    await publisher.connect()
    stream = SteadyStream(
        publisher, topic, size.messages, size.rate, deadline=size.messages / size.rate + 60
    )
    stream.start()

    await stream.wait_acked(size.messages // 5)
    movers = fleet.on(victim.name)
    assert movers, "no client on the node to freeze"
    paused_at = time.monotonic()
    victim.pause()
    try:
        bound = PING_INTERVAL + PING_TIMEOUT + BACKOFF_BASE + MOVE_SLACK
        await eventually(
            lambda: all(m.client.node not in (None, victim.name) for m in movers),
            timeout=bound + 20,
            interval=0.05,
            message="every client of the frozen node moved",
        )
        # The zombies' sessions resume elsewhere, after what their old connections got.
        for i, zombie in enumerate(zombies):
            zombie.moved_after = len(zombie.old.msgs[topic])
            zombie.moved_cursor = zombie.cursor(topic)
            target = (survivor, other)[i % 2]
            zombie.new, _ = await harness.raw(
                target.ws_url, session=zombie.session, cursors={topic: zombie.moved_cursor}
            )
        acked_at_move = len(stream.acks)
        await eventually(
            lambda: (
                time.monotonic() - paused_at >= MIN_PAUSE
                and len(stream.acks) >= min(size.messages, acked_at_move + int(size.rate))
            ),
            timeout=60,
            message="the freeze outlasting the pause threshold, the stream going on",
        )
    finally:
        resumed_at = time.monotonic()
        victim.resume()

    # The old node wakes: the zombies' old connections get reconnect/4009 and no msg.
    for zombie in zombies:
        await zombie.old.wait_closed(timeout=30)
    await eventually(
        lambda: _connections_of(victim.http_url, 0),
        timeout=30,
        message=f"{victim.name} holding no connection",
    )
    closes_4009 = total(await metrics(victim.http_url), 'haws_gateway_closes_total{code="4009"}')

    await stream.finish()
    assert not stream.failures, stream.failures[:5]
    acked = stream.seqs
    assert len(acked) == len(set(acked)) == size.messages
    await fleet.wait_received(topic, set(acked), timeout=60)
    for zombie in zombies:
        assert zombie.new is not None
        await zombie.new.wait_msgs(topic, len([s for s in acked if s > zombie.moved_cursor]), 30)

    move_times = {
        m.name: moved - paused_at
        for m in movers
        if (moved := harness.log.welcomed_at(m.name, 2)) is not None
    }
    late_on_old = {
        m.name: late for m in movers if (late := _frames_after(harness, m.name, topic, 1, 2))
    }
    zombie_late = {z.name: z.old.msgs[topic][z.moved_after :] for z in zombies}
    zombie_totals = _zombie_verdicts(harness, zombies, topic, acked)
    totals = fleet.verify(topic, acked)
    faults = fleet.application_faults(acked)
    harness.emit(
        "gateway-pause",
        size=str(size),
        **totals.counts(),
        moved=len(movers),
        move=timings(list(move_times.values())),
        move_bound=bound,
        paused_seconds=round(resumed_at - paused_at, 3),
        zombies=len(zombies),
        zombie_msgs_after_move=sum(len(v) for v in zombie_late.values()),
        zombie_close_codes=sorted({z.old.close_code for z in zombies}, key=str),
        zombie_lost=zombie_totals.lost,
        zombie_duplicates=zombie_totals.duplicates,
        old_node_4009=closes_4009,
        app_faults=len(faults),
    )
    assert totals.ok, (totals.evidence(), fleet.dump(list(totals.failed), topic))
    assert not faults, list(faults.items())[:5]
    assert len(move_times) == len(movers)
    assert max(move_times.values()) <= bound, move_times
    assert not late_on_old, late_on_old
    assert not any(zombie_late.values()), {k: v[:3] for k, v in zombie_late.items() if v}
    assert {z.old.close_code for z in zombies} == {CloseCode.TAKEN_OVER}
    assert zombie_totals.ok, zombie_totals.evidence()


async def _connections_of(http_url: str, expected: int) -> bool:
    return total(await metrics(http_url), "haws_gateway_connections") == expected


def _frames_after(harness: Harness, name: str, topic: str, old: int, new: int) -> int:
    """Frames that came on connection ``old`` after connection ``new`` was welcomed."""
    moved = harness.log.welcomed_at(name, new)
    if moved is None:
        return 0
    return sum(1 for m in harness.log.msgs(name, topic, connections={old}) if m.at > moved)


def _zombie_verdicts(
    harness: Harness, zombies: list[Zombie], topic: str, acked: list[int]
) -> Totals:
    """Each zombie session's wire: the old connection until the move, then the new one."""
    log = harness.log
    for zombie in zombies:
        assert zombie.new is not None
        for frame in zombie.old.msgs[topic][: zombie.moved_after]:
            log.record(zombie.name, frame, 1)
        for frame in zombie.new.msgs[topic]:
            log.record(zombie.name, frame, 2)
    totals = Totals()
    for zombie in zombies:
        expected = [s for s in acked if s > zombie.start]
        totals.add(zombie.name, log.verify(zombie.name, topic, expected, first_prev=zombie.start))
    return totals
