"""The gateway's fan-out path alone, in process: ``python -m bench.fanout_path``.

A topic with N subscribers on sockets that write nowhere; each round fans out
K messages, then lets the flush pass run. Printed: CPU nanoseconds per delivery
(best of 5 rounds) for K = 1, 4 and 16 messages per pass, beside the raw
aiohttp baseline's own scheme (``bench/baselines/raw_aiohttp.py``: a pending
list per member, one join and write per member per pass) in the same process.
No syscalls, no broker, no load generator: the Python work per delivery that
the fan-out scenario's ``server CPU/msg`` contains, measured so that a loaded
machine moves both columns alike (compare the ratio, not the nanoseconds).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import orjson
from aiohttp import WSMsgType

from haws.common.logs import get_logger
from haws.common.messages import StoredMessage
from haws.gateway.broker.memory import MemoryBroker
from haws.gateway.delivery.connection import Connection
from haws.gateway.delivery.flusher import Flusher
from haws.gateway.delivery.send_queue import SendQueue
from haws.gateway.fanout.subscription import Subscription
from haws.gateway.fanout.topic import Topic
from haws.gateway.metrics import GatewayMetrics
from haws.protocol.codec import JSON, encode_payload

ROUNDS = 5
DELIVERIES = 400


class _Nowhere:
    """A transport and its flow control: never paused, every write dropped."""

    writing_paused = False
    closed = False
    compress = False

    def write(self, data: bytes) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass

    async def drain(self) -> None:
        pass

    async def send_frame(self, message: bytes, opcode: WSMsgType) -> None:
        pass


def _best(samples: list[float], deliveries: int) -> float:
    return min(samples) / deliveries * 1e9


async def _haws(n: int, per_pass: int) -> float:
    log = get_logger("fanout-path")
    flusher = Flusher(log)
    broker = MemoryBroker()
    topic = Topic("t", broker, broker, GatewayMetrics(), log, flusher=flusher)
    await topic.start()
    for i in range(n):
        side: Any = _Nowhere()
        conn = Connection(
            side, side, JSON, flow=side, drain=side, session=f"s{i}", user=None, batch=False,
            queue=SendQueue(4096, 1 << 20), log=log, flusher=flusher,
        )  # fmt: skip
        sub = Subscription(conn, "t", live=True, presence=False, seq=0)
        topic.subscribers[conn] = sub
        conn.add_subscription(sub)
    body = encode_payload({"t": 1234567890123, "pad": "x" * 40})
    seq = topic.last_seq
    samples = []
    for _ in range(ROUNDS):
        start = time.process_time()
        for _ in range(DELIVERIES // per_pass):
            for _ in range(per_pass):
                seq += 1
                await topic.advance(StoredMessage("t", seq, seq - 1, 0, body))
            await asyncio.sleep(0)  # the flush pass (call_soon) runs
            await asyncio.sleep(0)
        samples.append(time.process_time() - start)
    await topic.stop()
    return _best(samples, DELIVERIES * n)


class _Member:
    __slots__ = ("pending", "transport")

    def __init__(self) -> None:
        self.pending: list[bytes] = []
        self.transport = _Nowhere()


async def _raw(n: int, per_pass: int) -> float:
    members = [_Member() for _ in range(n)]
    dirty: list[_Member] = []
    loop = asyncio.get_running_loop()

    def flush() -> None:
        nonlocal dirty
        todo, dirty = dirty, []
        for member in todo:
            pending, member.pending = member.pending, []
            member.transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    samples = []
    for _ in range(ROUNDS):
        start = time.process_time()
        for _ in range(DELIVERIES // per_pass):
            for _ in range(per_pass):
                payload = orjson.dumps({"op": "msg", "topic": "t", "data": {"pad": "x" * 40}})
                wire = b"\x81\x7e" + len(payload).to_bytes(2, "big") + payload
                if not dirty:
                    loop.call_soon(flush)
                for member in members:
                    if not member.pending:
                        dirty.append(member)
                    member.pending.append(wire)
            await asyncio.sleep(0)
            await asyncio.sleep(0)
        samples.append(time.process_time() - start)
    return _best(samples, DELIVERIES * n)


async def _main(n: int) -> None:
    print(f"{n} subscribers, ns of CPU per delivery (best of {ROUNDS})")
    print("msgs/pass   haws    raw   haws/raw")
    for per_pass in (1, 4, 16):
        haws, raw = await _haws(n, per_pass), await _raw(n, per_pass)
        print(f"{per_pass:9d} {haws:6.0f} {raw:6.0f} {haws / raw:8.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fanout_path", description=__doc__)
    parser.add_argument("--subscribers", type=int, default=1000)
    asyncio.run(_main(parser.parse_args().subscribers))


if __name__ == "__main__":
    main()
