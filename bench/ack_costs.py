"""What the gateway's ack inbox saves per JetStream call: ``python -m bench.ack_costs``.

One process against a nats-server of its own: the session store's write and read
and the message store's publish, each the nats-py way it was made before
(``KeyValue.put``/``get``, ``JetStreamContext.publish``) and through
``haws.common.ack_inbox.AckInbox`` (and the inbox without ``raw_replies``' tap),
``IN_FLIGHT`` calls at once as in a connect storm, rounds alternating. The figure
is this process's CPU per call: what a gateway spends, whatever the server did.
Figures, never pass/fail; the machine's other load moves them.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import nats
from nats.aio.client import Client as NatsClient

from haws.cluster.nats import NatsServer
from haws.common import ack_inbox, names
from haws.common.ack_inbox import AckInbox
from haws.common.session_record import SessionRecord, TopicState
from haws.common.settings import NatsSettings
from haws.common.streams import ensure_kv, ensure_stream
from haws.gateway.sessions.store import KvSessionStore

BUCKET = "BENCH_ACK_COSTS"
IN_FLIGHT = 100
RECORD = SessionRecord(subs={"t.a": TopicState(12, True)}, node="gw-1", user="u1")
BODY = b'{"d":"hello"}'

Call = Callable[[int], Awaitable[object]]


async def _cpu_per_call(call: Call, calls: int) -> float:
    """Microseconds of this process's CPU per call, ``IN_FLIGHT`` at a time."""
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def one(i: int) -> None:
        async with slots:
            await call(i)

    started = time.process_time()
    await asyncio.gather(*(one(i) for i in range(calls)))
    return (time.process_time() - started) / calls * 1e6


async def _inbox(nc: NatsClient, *, tapped: bool) -> AckInbox:
    namespace = vars(ack_inbox)
    original = namespace["tap_for"]
    if not tapped:
        namespace["tap_for"] = lambda nc: None  # the path taken when nats-py has no hook
    try:
        inbox = AckInbox(nc)
        await inbox.start()
    finally:
        namespace["tap_for"] = original
    return inbox


async def measure(url: str, calls: int, rounds: int) -> dict[str, list[float]]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream(timeout=10)
        kv = await ensure_kv(js, BUCKET, NatsSettings(), ttl=600)
        await ensure_stream(js, NatsSettings())
        tapped = await _inbox(nc, tapped=True)
        untapped = await _inbox(nc, tapped=False)
        store = KvSessionStore(tapped, bucket=BUCKET, timeout=10)
        bare = KvSessionStore(untapped, bucket=BUCKET, timeout=10)
        encoded = RECORD.encode()
        subject = names.topic_subject("bench.ack_costs")
        stamp = time.time_ns()

        async def kv_put(i: int) -> object:
            async with asyncio.timeout(10):
                return await kv.put(f"s{i}", encoded)

        async def kv_get(i: int) -> object:
            async with asyncio.timeout(10):
                entry = await kv.get(f"s{i}")
            return SessionRecord.decode(entry.value or b"")

        async def js_publish(i: int) -> object:
            headers = {names.HDR_MSG_ID: f"{stamp}-a-{i}"}
            return await js.publish(subject, BODY, timeout=10, headers=headers)

        async def inbox_publish(i: int) -> object:
            headers = {names.HDR_MSG_ID: f"{stamp}-b-{i}"}
            return await tapped.publish_once(subject, BODY, headers, 10)

        cases: dict[str, Call] = {
            "session put: KeyValue.put": kv_put,
            "session put: inbox": lambda i: store.put(f"s{i}", RECORD),
            "session put: inbox, no tap": lambda i: bare.put(f"s{i}", RECORD),
            "session get: KeyValue.get": kv_get,
            "session get: inbox": lambda i: store.get(f"s{i}"),
            "pub: JetStreamContext.publish": js_publish,
            "pub: inbox": inbox_publish,
        }
        figures: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(rounds):
            stamp = time.time_ns()  # new message ids: every round stores, none is a dup
            for name, call in cases.items():
                figures[name].append(await _cpu_per_call(call, calls))
        await tapped.stop()
        await untapped.stop()
        await js.delete_key_value(BUCKET)
        return figures
    finally:
        await nc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=3000, help="calls per case and round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, NatsServer(Path(folder)) as server:
        figures = asyncio.run(measure(server.url, args.calls, args.rounds))
    for name, values in figures.items():
        print(
            f"{name:32s} µs CPU/call: median {statistics.median(values):6.1f}"
            f"  min {min(values):6.1f}  max {max(values):6.1f}"
        )


if __name__ == "__main__":
    main()
