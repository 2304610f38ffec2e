"""One publishing client: pipelined ``pub`` requests, acks counted, not awaited one by one.

Up to ``window`` pubs are unacknowledged at once (haws acks after JetStream
stored the message, so waiting for each ack would measure one round trip).
Two pacing modes: ``run_closed`` publishes as fast as every subscriber keeps up
(``Flow``), ``run_rate`` at a fixed rate. Acked seqs are kept to count losses.
"""

from __future__ import annotations

import asyncio
import time
from array import array

from bench.loadgen.dialects import Dialect
from bench.loadgen.flow import Flow
from bench.loadgen.peer import Peer, Reply

BURST = 64
"""Pubs written in one ``transport.write`` at most."""


class Publisher(Peer):
    def __init__(self, dialect: Dialect, topic: str, *, window: int = 256) -> None:
        super().__init__(dialect)
        self.topic = topic
        self.window = window
        self.in_flight = 0
        self.sent = 0
        self.errors = 0
        self.max_acked = 0
        self.acked = array("q")
        self._first_pub_id = 0
        self._flow = Flow(1, 1)
        """Woken by acks; replaced by the subscribers' flow in ``run_closed``."""

    def on_control(self, reply: Reply, now: int) -> None:
        rid = reply.get("id")
        op = reply.get("op")
        if isinstance(rid, int) and rid >= self._first_pub_id > 0 and op in ("ack", "error"):
            self.in_flight -= 1
            if op == "ack":
                seq = int(reply["seq"])
                self.acked.append(seq)
                if seq > self.max_acked:
                    self.max_acked = seq
            else:
                self.errors += 1
            self._flow.wake()
            return
        super().on_control(reply, now)

    def published(self) -> list[int]:
        """Acked seqs in order (acks of pipelined pubs may arrive out of order)."""
        return sorted(self.acked)

    def _begin(self) -> None:
        if not self._first_pub_id:
            self._first_pub_id = self._next_id + 1

    async def run_closed(self, flow: Flow, *, until: float, max_messages: int) -> None:
        """Publish while ``flow`` has credit, until ``until`` (loop time) or the count."""
        self._begin()
        self._flow = flow
        loop = asyncio.get_running_loop()
        conn, dialect, topic = self.conn, self.dialect, self.topic
        if conn is None:
            raise ConnectionError("publisher not connected")
        clock = time.monotonic_ns
        while self.sent < max_messages and loop.time() < until and conn.is_open:
            burst: list[bytes] = []
            while (
                self.in_flight < self.window
                and flow.credit()
                and self.sent < max_messages
                and len(burst) < BURST
            ):
                self._next_id += 1
                burst.append(dialect.pub(self._next_id, topic, clock()))
                self.in_flight += 1
                self.sent += 1
                flow.published += 1
            if burst:
                conn.send(b"".join(burst))
                await asyncio.sleep(0)  # let the subscribers read
            else:
                await flow.wait(min(0.1, max(0.0, until - loop.time())))

    async def run_rate(self, rate: float, *, until: float, max_messages: int) -> int:
        """Publish ``rate`` messages per second; returns how many were late (window full)."""
        self._begin()
        loop = asyncio.get_running_loop()
        conn, dialect, topic = self.conn, self.dialect, self.topic
        if conn is None:
            raise ConnectionError("publisher not connected")
        interval = 1.0 / rate
        due = loop.time()
        stalled = 0
        while self.sent < max_messages and due < until and conn.is_open:
            now = loop.time()
            if now < due:
                await asyncio.sleep(due - now)
            if self.in_flight >= self.window:
                stalled += 1
                await self._flow.wait(min(0.1, max(0.0, until - loop.time())))
                continue
            self._next_id += 1
            conn.send(dialect.pub(self._next_id, topic, time.monotonic_ns()))
            self.in_flight += 1
            self.sent += 1
            due += interval
        return stalled

    async def settle(self, timeout: float) -> None:
        """Until every pub was acked (or failed), at most ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while self.in_flight > 0 and loop.time() < end and self.conn is not None:
            if not self.conn.is_open:
                break
            await self._flow.wait(min(0.05, end - loop.time()))
