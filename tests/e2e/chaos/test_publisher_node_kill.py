"""(c) The publisher's gateway is SIGKILLed between ``pub`` and ``ack``.

The SDK publisher keeps many publishes in flight on the doomed node. The test
sees each message as the stream republishes it (once stored), straight from
NATS; the first one whose ack has not reached the publisher yet proves a
publish sits between store and ack, and the node is killed right then. The
SDK re-sends every unacked publish with its ``mid`` on another node; the stream
must hold every publish exactly once (read back with ``sub since: 0``), each at
the seq its ack named, and a publish stored before the kill must come back
``dup: true``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import nats
import pytest
from nats.aio.msg import Msg

from haws.cluster import ClusterSpec, Gateway
from haws.common import names
from tests.e2e.chaos.conftest import Harness
from tests.e2e.chaos.probes import read_back
from tests.e2e.chaos.sizes import short_and_long
from tests.e2e.chaos.stream import SteadyStream


@dataclass(frozen=True)
class Size:
    messages: int
    workers: int
    rate: float | None
    """Publishes per second (None: as fast as ``workers`` allow; the gateways here
    run without a command rate limit)."""
    rounds: int
    """Kills at most (each on a fresh publisher), until one catches a stored, unacked pub."""

    def __str__(self) -> str:
        return f"{self.messages}m-{self.workers}w"


SIZES = short_and_long(
    Size(messages=400, workers=64, rate=None, rounds=10),
    # Unpaced: only many publishes in flight at once make a kill between a store
    # and its ack likely (paced at 600/s, 10 rounds caught none).
    Size(messages=3000, workers=200, rate=None, rounds=5),
)
SPEC = ClusterSpec(
    nats=1, gateways=3, presence=0, replay=2, haproxy=False, gateway_args=("--command-rate=0",)
)


async def kill_when_stored_unacked(
    stored: asyncio.Queue[str], stream: SteadyStream, victim: Gateway, timeout: float
) -> tuple[str, float] | None:
    """Kill ``victim`` as soon as a stored message's ack is still missing; its mid.

    ``stored`` gets each message's mid as the stream republishes it, that is once
    stored, straight from NATS: through a gateway and a WebSocket it came one hop
    later than the ack from the victim's ack inbox, and no kill caught one."""
    acked: set[str] = set()
    seen = 0
    async with asyncio.timeout(timeout):
        while len(stream.acks) < stream.count:
            mid = await stored.get()
            if not mid.startswith(f"{stream.prefix}-"):
                continue  # stored by an earlier round
            seen += 1
            acked.update(a.mid for a in stream.acks[len(acked) :])
            if seen > stream.workers and mid not in acked:
                killed_at = time.monotonic()
                victim.process.signal(signal.SIGKILL)  # now; reaped below, off the loop
                await asyncio.to_thread(victim.kill)
                return str(mid), killed_at
    return None


@contextlib.asynccontextmanager
async def stored_mids(nats_url: str, topic: str) -> AsyncIterator[asyncio.Queue[str]]:
    """The mid of each message of ``topic`` as the stream republishes it: once stored."""
    mids: asyncio.Queue[str] = asyncio.Queue()

    async def on_stored(msg: Msg) -> None:
        mids.put_nowait((msg.headers or {}).get(names.HDR_MSG_ID, ""))

    nc = await nats.connect(nats_url)
    try:
        await nc.subscribe(names.live_subject(topic), cb=on_stored)
        await nc.flush()
        yield mids
    finally:
        await nc.close()


async def kill_rounds(
    harness: Harness, size: Size, topic: str, mids: asyncio.Queue[str], streams: list[SteadyStream]
) -> str | None:
    """Rounds of a fresh publisher on the victim, killed mid-stream, until a kill
    caught a stored, unacked publish (its mid, acked ``dup`` after the re-send)."""
    gw1, gw2, victim = harness.cluster.gateways
    for _ in range(size.rounds):
        if not victim.alive:
            await asyncio.to_thread(victim.start)
        publisher = harness.client([victim.ws_url, gw2.ws_url, gw1.ws_url])
        await publisher.connect()
        stream = SteadyStream(
            publisher, topic, size.messages, size.rate, workers=size.workers, deadline=120
        )
        streams.append(stream)
        stream.start()
        cut = await kill_when_stored_unacked(mids, stream, victim, timeout=60)
        await stream.finish()
        assert not stream.failures, stream.failures[:5]
        if cut is not None and any(a.mid == cut[0] and a.dup for a in stream.acks):
            return cut[0]
    return None


@pytest.mark.parametrize("size", SIZES)
async def test_publishes_cut_between_pub_and_ack_are_stored_exactly_once(
    harness: Harness, size: Size
) -> None:
    cluster = await harness.start_cluster(SPEC)
    gw2 = cluster.gateways[1]
    topic = harness.topic("publisher-kill")
    streams: list[SteadyStream] = []
    async with stored_mids(cluster.nats.url, topic) as mids:
        caught = await kill_rounds(harness, size, topic, mids, streams)

    acks = [a for s in streams for a in s.acks]
    stored = await read_back(gw2.ws_url, topic, timeout=30)
    per_mid = Counter(m.get("mid") for m in stored)
    seq_of = {m.get("mid"): m["seq"] for m in stored}
    published = {mid for s in streams for mid in s.sent_mids}
    twice = {mid: n for mid, n in per_mid.items() if n > 1}
    missing = published - set(per_mid)
    wrong_seq = [a.mid for a in acks if seq_of.get(a.mid) != a.seq]
    dups = [a for a in acks if a.dup]
    resent = sum(s.client.stats.sent - s.client.stats.acked for s in streams)
    harness.emit(
        "publisher-kill",
        size=str(size),
        rounds=len(streams),
        published=len(published),
        acked=len(acks),
        stored=len(stored),
        stored_twice=len(twice),
        missing=len(missing),
        wrong_seq=len(wrong_seq),
        dup_acks=len(dups),
        resent=resent,
        caught_mid=caught,
    )
    assert len(acks) == len(published) == size.messages * len(streams)
    assert not twice, list(twice.items())[:5]
    assert not missing, sorted(missing)[:5]
    assert not wrong_seq, wrong_seq[:5]
    assert len(stored) == len(published)
    assert caught is not None, f"no kill caught a stored, unacked publish in {len(streams)} rounds"
