"""(c) The publisher's gateway is SIGKILLed between ``pub`` and ``ack``.

The SDK publisher keeps many publishes in flight on the doomed node. A watcher
on another node sees messages as they are stored; the first one it sees whose
ack has not reached the publisher yet proves a publish sits between store and
ack, and the node is killed right then. The SDK re-sends every unacked publish
with its ``mid`` on another node; the stream must hold every publish exactly
once (read back with ``sub since: 0``), each at the seq its ack named, and a
publish stored before the kill must come back ``dup: true``.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from dataclasses import dataclass

import pytest

from haws.cluster import ClusterSpec, Gateway
from tests.e2e.chaos.conftest import Harness
from tests.e2e.chaos.probes import read_back
from tests.e2e.chaos.sizes import short_and_long
from tests.e2e.chaos.stream import SteadyStream
from tests.support.ws_client import WsClient


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
    Size(messages=400, workers=64, rate=None, rounds=5),
    # Unpaced: only many publishes in flight at once make a kill between a store
    # and its ack likely (paced at 600/s, 10 rounds caught none).
    Size(messages=3000, workers=200, rate=None, rounds=5),
)
SPEC = ClusterSpec(
    nats=1, gateways=3, presence=0, replay=2, haproxy=False, gateway_args=("--command-rate=0",)
)


async def kill_when_stored_unacked(
    watcher: WsClient, stream: SteadyStream, victim: Gateway, timeout: float
) -> tuple[str, float] | None:
    """Kill ``victim`` as soon as a stored message's ack is still missing; its mid."""
    acked: set[str] = set()
    seen = 0
    async with asyncio.timeout(timeout):
        while len(stream.acks) < stream.count:
            frame = await watcher.frames.get()
            if frame.get("op") != "msg":
                continue
            mid = str(frame.get("mid"))
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


@pytest.mark.parametrize("size", SIZES)
async def test_publishes_cut_between_pub_and_ack_are_stored_exactly_once(
    harness: Harness, size: Size
) -> None:
    cluster = await harness.start_cluster(SPEC)
    gw1, gw2, victim = cluster.gateways
    topic = harness.topic("publisher-kill")
    watcher, _ = await harness.raw(gw1.ws_url)
    await watcher.sub(topic)
    streams: list[SteadyStream] = []
    caught: str | None = None
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
        cut = await kill_when_stored_unacked(watcher, stream, victim, timeout=60)
        await stream.finish()
        assert not stream.failures, stream.failures[:5]
        if cut is not None and any(a.mid == cut[0] and a.dup for a in stream.acks):
            caught = cut[0]
            break

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
