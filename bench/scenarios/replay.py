"""Replay: one client 100,000 messages behind catches up. Figure: msg/s.

haws (gateway + replay service): the messages are stored straight into
JetStream first (pipelined, acked), then a client sends ``sub`` with
``since`` = the seq before them; the clock runs from that ``sub`` until its
``recovered`` frame. Baseline: Node socket.io's connectionStateRecovery,
the same count of missed packets kept in memory and replayed when a client
comes back with its ``pid`` and last offset; the clock runs from the
reconnect until the last missed message arrived. The other baselines keep no
history.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import nats

from bench.figures import Figure, skipped
from bench.lab import HAWS_DIALECTS, Lab
from bench.loadgen.crowd import close_all
from bench.loadgen.dialects import Dialect, payload_data
from bench.loadgen.flow import Flow
from bench.loadgen.peer import Reply
from bench.loadgen.publisher import Publisher
from bench.loadgen.subscriber import Subscriber
from bench.loadgen.tally import lost
from bench.scenarios.traffic import new_topic
from bench.systems import Running, Skipped
from bench.usage import CpuMeter
from haws.common import names
from haws.common.codec import encode_payload

NAME = "replay"
METRIC = "replayed msg/s"
TIMEOUT = 120.0


class CatchingUp(Subscriber):
    """Notes when ``recovered`` arrives and the offset of the last socket.io ``msg``."""

    use_scanner = False  # every chunk must reach on_frames to see the last offset

    def __init__(self, dialect: Dialect, goal: int) -> None:
        super().__init__(dialect)
        self.goal = goal
        self.done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.offset: str | None = None

    def on_control(self, reply: Reply, now: int) -> None:
        if reply.get("op") == "recovered" and not self.done.done():
            self.done.set_result(now)
        super().on_control(reply, now)

    def on_frames(self, conn: Any, received: list[tuple[int, bytes]], now: int) -> None:
        super().on_frames(conn, received, now)
        last = received[-1][1]
        if self.dialect.family == "socket.io" and last.startswith(self.dialect.msg_prefix):
            self.offset = last[last.rfind(b',"') + 2 : -2].decode()
            if self.tally.count >= self.goal and not self.done.done():
                self.done.set_result(now)


def run(lab: Lab) -> list[Figure]:
    n = lab.sizes.replay_messages
    scenario = f"{NAME}-{n}"
    figures: list[Figure] = []
    if lab.wants("haws"):
        print(f"  {scenario} haws ...", flush=True)
        try:
            with lab.haws(replay=True) as stack:
                details = lab.run(_haws(lab, stack, n))
            figures.append(
                Figure(scenario, METRIC, "haws", details["msgs_per_s"], "msg/s", details=details)
            )
        except Skipped as exc:
            figures.append(
                skipped(
                    scenario, METRIC, "haws", "msg/s", str(exc), role="subject", better="higher"
                )
            )
    if lab.wants("node-socketio"):
        print(f"  {scenario} node-socketio ...", flush=True)
        try:
            with lab.system("node-socketio") as target:
                details = lab.run(_node(lab, target, n))
            figures.append(
                Figure(
                    scenario,
                    METRIC,
                    "node-socketio",
                    details["msgs_per_s"],
                    "msg/s",
                    role="baseline",
                    details=details,
                )
            )
        except Skipped as exc:
            figures.append(
                skipped(
                    scenario,
                    METRIC,
                    "node-socketio",
                    "msg/s",
                    str(exc),
                    role="baseline",
                    better="higher",
                )
            )
    return figures


async def _prefill(nats_url: str, topic: str, n: int) -> list[int]:
    """Store ``n`` messages on ``topic`` directly in JetStream; their seqs."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream(publish_async_max_pending=2000)
        subject = names.topic_subject(topic)
        futures = [
            await js.publish_async(subject, encode_payload(payload_data(time.monotonic_ns())))
            for _ in range(n)
        ]
        acks = await asyncio.wait_for(asyncio.gather(*futures), TIMEOUT)
    finally:
        await nc.close()
    return sorted(ack.seq for ack in acks)


async def _haws(lab: Lab, stack: Any, n: int) -> dict[str, Any]:
    topic = new_topic(NAME)
    filled_at = time.monotonic()
    seqs = await _prefill(stack.infra.nats.url, topic, n)
    fill_seconds = time.monotonic() - filled_at
    client = CatchingUp(HAWS_DIALECTS["haws"], n)
    target = stack.running("haws", HAWS_DIALECTS["haws"])
    await client.connect(target.url)
    meter = CpuMeter(stack.pids())
    try:
        start = meter.sample()
        sent_at = time.monotonic_ns()
        await client.subscribe(topic, since=seqs[0] - 1)
        done_at = await asyncio.wait_for(client.done, TIMEOUT)
        end = meter.sample()
    finally:
        await close_all([client])
    return _result(client, seqs, sent_at, done_at, meter.between(start, end), fill_seconds)


async def _node(lab: Lab, target: Running, n: int) -> dict[str, Any]:
    topic = new_topic(NAME)
    client = CatchingUp(target.dialect, 1)
    publisher = Publisher(target.dialect, topic, window=512)
    await client.connect(target.url)
    await client.subscribe(topic)
    await publisher.connect(target.url)
    loop = asyncio.get_running_loop()
    await publisher.run_closed(Flow(1, 1 << 30), until=loop.time() + 10, max_messages=1)
    await asyncio.wait_for(client.done, 10)
    pid, offset = client.session, client.offset
    await close_all([client])
    filled_at = time.monotonic()
    await publisher.run_closed(Flow(1, 1 << 30), until=loop.time() + TIMEOUT, max_messages=n + 1)
    await publisher.settle(30)
    fill_seconds = time.monotonic() - filled_at
    back = CatchingUp(target.dialect, n)
    meter = CpuMeter(target.server_pids())
    try:
        start = meter.sample()
        sent_at = time.monotonic_ns()
        await back.connect(target.url, session=pid, cursors={topic: offset})
        done_at = await asyncio.wait_for(back.done, TIMEOUT)
        end = meter.sample()
    finally:
        await close_all([back, publisher])
    seqs = publisher.published()[1:]
    return _result(back, seqs, sent_at, done_at, meter.between(start, end), fill_seconds)


def _result(
    client: Subscriber, seqs: list[int], sent_at: int, done_at: int, usage: Any, fill: float
) -> dict[str, Any]:
    seconds = (done_at - sent_at) / 1e9
    return {
        "msgs_per_s": client.tally.count / seconds if seconds > 0 else None,
        "received": client.tally.count,
        "behind": len(seqs),
        "seconds": round(seconds, 3),
        "lost": lost(client.tally, seqs, seqs[0]) if seqs else 0,
        "duplicates": client.tally.dups,
        "chain_breaks": client.tally.breaks,
        "prefill_s": round(fill, 2),
        **usage.details(),
    }
