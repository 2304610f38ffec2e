"""A steady publish stream through the SDK, bounded in count and in time.

``workers`` publishers share one paced sequence of ``count`` messages (message
``i`` is not sent before ``start + i / rate``); each awaits its ack, which the
SDK retries with the same ``mid`` across reconnects. Every ack is kept with the
time it came, so a test can name what was stored before and after a fault.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field

from haws.client import Client
from tests.support.waiting import eventually


@dataclass(frozen=True, slots=True)
class Ack:
    index: int
    mid: str
    seq: int
    dup: bool
    sent: float
    """``time.monotonic()`` when ``publish`` was called."""
    at: float
    """``time.monotonic()`` when the ack came back."""


@dataclass
class SteadyStream:
    client: Client
    topic: str
    count: int
    rate: float | None
    """Messages per second over all workers; ``None``: as fast as acks come."""
    workers: int = 1
    deadline: float = 60.0
    """Seconds the whole stream may take; past it the stream stops, short."""
    publish_timeout: float = 30.0
    """Seconds one publish may wait for its ack (reconnects and retries included)."""
    prefix: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    acks: list[Ack] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    sent_mids: set[str] = field(default_factory=set)
    """Every mid handed to ``publish`` (acked or not)."""
    _task: asyncio.Task[None] | None = None
    _ending: asyncio.Event = field(default_factory=asyncio.Event)

    def mid(self, index: int) -> str:
        return f"{self.prefix}-{index}"

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"stream {self.topic}")

    async def _run(self) -> None:
        started = time.monotonic()
        stop_at = started + self.deadline
        indices = iter(range(self.count))

        async def worker() -> None:
            for index in indices:
                if self.rate:
                    delay = started + index / self.rate - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)  # pacing the load, not waiting for a state
                if self._ending.is_set():
                    return
                if time.monotonic() > stop_at:
                    self.failures.append(f"deadline of {self.deadline} s passed at #{index}")
                    return
                await self._publish(index)

        await asyncio.gather(*(worker() for _ in range(self.workers)))

    async def _publish(self, index: int) -> None:
        mid = self.mid(index)
        self.sent_mids.add(mid)
        sent = time.monotonic()
        try:
            async with asyncio.timeout(self.publish_timeout):
                ack = await self.client.publish(self.topic, {"i": index}, mid=mid)
        except Exception as exc:
            self.failures.append(f"#{index} ({mid}): {exc!r}")
            return
        self.acks.append(Ack(index, mid, ack.seq, ack.dup, sent, time.monotonic()))

    async def wait_acked(self, n: int, timeout: float = 30.0) -> None:
        await eventually(
            lambda: len(self.acks) >= n, timeout=timeout, message=f"{n} acks on {self.topic}"
        )

    async def finish(self) -> list[Ack]:
        """Wait for the stream to end (its own deadline bounds it); every ack."""
        if self._task is not None:
            async with asyncio.timeout(self.deadline + self.publish_timeout + 5):
                await self._task
        return self.acks

    def end(self) -> None:
        """Hand nothing new to ``publish``; the pubs already handed over still finish
        (``finish`` waits for them), so every message sent is acked or a failure."""
        self._ending.set()

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    @property
    def seqs(self) -> list[int]:
        """Acked seqs in stream order."""
        return sorted(a.seq for a in self.acks)

    def first_sent_after(self, moment: float) -> Ack | None:
        """The first acked message published after ``moment`` (so stored after it)."""
        later = [a for a in self.acks if a.sent > moment]
        return min(later, key=lambda a: a.seq) if later else None

    def last_acked_before(self, moment: float) -> int:
        earlier = [a.seq for a in self.acks if a.at <= moment]
        return max(earlier, default=0)
