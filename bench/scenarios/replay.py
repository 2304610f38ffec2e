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
import os
import time
from typing import Any

import nats

from bench.figures import Figure, skipped, why
from bench.lab import HAWS_DIALECTS, Lab, Profile, haws_variants
from bench.loadgen.crowd import close_all
from bench.loadgen.dialects import Dialect, payload_data
from bench.loadgen.flow import Flow
from bench.loadgen.peer import Reply
from bench.loadgen.publisher import Publisher
from bench.loadgen.subscriber import Subscriber
from bench.loadgen.tally import lost
from bench.part_meter import CpuSplit
from bench.profiler import Recording
from bench.scenarios.traffic import new_topic
from bench.systems import Running
from bench.usage import CpuMeter
from haws.common import names
from haws.protocol.codec import encode_payload

NAME = "replay"
METRIC = "replayed msg/s"
TIMEOUT = 120.0
IDLE = 5.0
"""Seconds without a message after which a catch-up counts as over (incomplete)."""
PROFILE_SECONDS = 60.0
"""py-spy's limit; it is stopped as soon as the client caught up."""


class CatchingUp(Subscriber):
    """Notes when ``recovered`` arrives and the offset of the last socket.io ``msg``."""

    use_scanner = False  # every chunk must reach on_frames to see the last offset

    def __init__(self, dialect: Dialect, goal: int) -> None:
        super().__init__(dialect)
        self.goal = goal
        self.done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.offset: str | None = None
        self.last_arrival = 0

    async def finished(self, started: int) -> int:
        """When it caught up; when it stalled (nothing for ``IDLE`` s), its last arrival."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIMEOUT
        while loop.time() < deadline:
            try:
                return await asyncio.wait_for(asyncio.shield(self.done), IDLE)
            except TimeoutError:
                if time.monotonic_ns() - max(self.last_arrival, started) > IDLE * 1e9:
                    return self.last_arrival or time.monotonic_ns()
        return self.last_arrival or time.monotonic_ns()

    def on_control(self, reply: Reply, now: int) -> None:
        if reply.get("op") == "recovered" and not self.done.done():
            self.done.set_result(now)
        super().on_control(reply, now)

    def on_frames(self, conn: Any, received: list[tuple[int, bytes]], now: int) -> None:
        super().on_frames(conn, received, now)
        self.last_arrival = now
        if self.dialect.family != "socket.io":
            return
        prefix = self.dialect.msg_prefix
        last = next((p for _, p in reversed(received) if p.startswith(prefix)), None)
        if last is not None:
            self.offset = last[last.rfind(b',"') + 2 : -2].decode()
        # Node sends the missed packets before the namespace's connect reply.
        if self.tally.count >= self.goal and not self.done.done():
            self.done.set_result(now)


def run(lab: Lab) -> list[Figure]:
    n = lab.sizes.replay_messages
    scenario = f"{NAME}-{n}"
    figures: list[Figure] = []
    for system, presence in haws_variants():
        if not lab.wants(system):
            continue
        print(f"  {scenario} {system} ...", flush=True)
        try:
            with lab.haws(replay=True, presence=presence) as stack:
                details = lab.run(_haws(lab, stack, n))
            figures.append(
                Figure(scenario, METRIC, system, details["msgs_per_s"], "msg/s", details=details)
            )
        except Exception as exc:  # reported in the table, the run goes on
            figures.append(
                skipped(
                    scenario, METRIC, system, "msg/s", why(exc), role="subject", better="higher"
                )
            )
    if lab.options.profile and lab.wants("haws"):
        _profile(lab, n)
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
        except Exception as exc:  # reported in the table, the run goes on
            figures.append(
                skipped(
                    scenario,
                    METRIC,
                    "node-socketio",
                    "msg/s",
                    why(exc),
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


async def _haws(
    lab: Lab, stack: Any, n: int, recordings: list[Recording] | None = None
) -> dict[str, Any]:
    topic = new_topic(NAME)
    roles = {pid: role for role, pid in _parts(stack).items()}
    # The replay tail's share of storing: its feed encodes every message as it is
    # stored, so that CPU is the price of the replay figure and is shown beside it.
    storing = CpuSplit(list(roles), roles)
    filled_at = time.monotonic()
    seqs = await _prefill(stack.infra.nats.url, topic, n)
    fill_seconds = time.monotonic() - filled_at
    client = CatchingUp(HAWS_DIALECTS["haws"], n)
    target = stack.running("haws", HAWS_DIALECTS["haws"])
    await client.connect(target.url)
    storing.stop()
    meter = CpuMeter(stack.pids())
    split = CpuSplit(list(roles), roles)
    try:
        for recording in recordings or []:
            recording.start(0.0, PROFILE_SECONDS)
        start = meter.sample()
        sent_at = time.monotonic_ns()
        await client.subscribe(topic, since=seqs[0] - 1)
        done_at = await client.finished(sent_at)
        end = meter.sample()
        split.stop()
    finally:
        await close_all([client])
    result = _result(client, seqs, sent_at, done_at, meter.between(start, end), fill_seconds)
    # Where each replayed message's server CPU goes: it moves far less with the
    # machine's noise than msg/s, and says which part to work on.
    result["cpu_us_per_msg"] = split.per_unit(client.tally.count)
    result["store_cpu_us_per_msg"] = storing.per_unit(n)
    return result


def _parts(stack: Any) -> dict[str, int]:
    """The processes on a replayed message's path, by role."""
    pids = {
        "gateway": stack.gateways[0].pid,
        "replay": stack.backends[0].pid if stack.backends else None,
        "nats": stack.infra.nats.pid,
    }
    return {part: pid for part, pid in pids.items() if pid is not None}


async def _node(lab: Lab, target: Running, n: int) -> dict[str, Any]:
    topic = new_topic(NAME)
    client = CatchingUp(target.dialect, 1)
    publisher = Publisher(target.dialect, topic, window=512)
    first = await client.connect(target.url)
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
        again = await back.connect(target.url, session=pid, cursors={topic: offset})
        done_at = await back.finished(sent_at)
        end = meter.sample()
    finally:
        await close_all([back, publisher])
    seqs = publisher.published()[1:]
    result = _result(back, seqs, sent_at, done_at, meter.between(start, end), fill_seconds)
    result["session_restored"] = again.get("sid") == first.get("sid")
    return result


def _result(
    client: Subscriber, seqs: list[int], sent_at: int, done_at: int, usage: Any, fill: float
) -> dict[str, Any]:
    seconds = (done_at - sent_at) / 1e9
    return {
        "complete": isinstance(client, CatchingUp) and client.done.done(),
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


def _profile(lab: Lab, n: int) -> None:
    """py-spy on the gateway, the replay service and the reading client while it catches up."""
    scenario = f"{NAME}-{n}"
    print(f"  {scenario} haws under py-spy ...", flush=True)
    try:
        with lab.haws(replay=True) as stack:
            pids = {
                "haws gateway": stack.gateways[0].pid,
                "haws replay": stack.backends[0].pid,
                # The reading client: it must not be what limits the figure.
                "bench client": os.getpid(),
            }
            recordings = {
                name: Recording(pid, lab.data_dir / f"profile-replay-{i}")
                for i, (name, pid) in enumerate(pids.items())
                if pid is not None
            }
            lab.run(_haws(lab, stack, n, list(recordings.values())))
            for name, recording in recordings.items():
                lab.profiles.append(Profile(scenario, name, recording.finish(stop=True)))
    except Exception as exc:  # reported in the table, the run goes on
        lab.profiles.append(Profile(scenario, "haws", {"skipped": why(exc)}))
