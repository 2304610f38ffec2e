"""The bounded per-connection outbound queue, drained by the connection's writer.

Enqueueing never blocks fan-out: a subscriber that cannot keep up overflows its
own queue and is closed with 4008 (nothing is lost: it resumes from its cursor),
while every other subscriber goes on.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable


class SendQueue:
    __slots__ = (
        "_bytes",
        "_drained",
        "_frames",
        "_max_bytes",
        "_max_frames",
        "_overflowed",
        "_waiter",
        "on_overflow",
    )

    def __init__(self, max_frames: int, max_bytes: int) -> None:
        self._frames: deque[bytes] = deque()
        self._bytes = 0
        self._max_frames = max_frames
        self._max_bytes = max_bytes
        self._waiter: asyncio.Future[None] | None = None
        self._overflowed = False
        self._drained: asyncio.Event | None = None
        self.on_overflow: Callable[[], None] | None = None

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def queued_bytes(self) -> int:
        return self._bytes

    @property
    def overflowed(self) -> bool:
        return self._overflowed

    def put(self, frame: bytes) -> bool:
        """Queue one encoded frame; ``False`` (and nothing queued) when over a limit."""
        if self._overflowed:
            return False
        size = len(frame)
        if len(self._frames) >= self._max_frames or self._bytes + size > self._max_bytes:
            self._overflowed = True
            self._frames.clear()
            self._bytes = 0
            self._wake()
            if self.on_overflow is not None:
                self.on_overflow()
            return False
        self._frames.append(frame)
        self._bytes += size
        self._wake()
        return True

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def wake(self) -> None:
        """Let the writer re-check its state (used when the connection closes)."""
        self._wake()

    async def wait(self) -> None:
        """Until something is queued or ``wake`` is called."""
        if self._frames or self._overflowed:
            return
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def take_all(self) -> list[bytes]:
        frames = list(self._frames)
        self._frames.clear()
        self._bytes = 0
        if self._drained is not None:
            self._drained.set()
        return frames

    def has_room(self) -> bool:
        """At most half full (the level ``room`` waits for)."""
        return len(self._frames) * 2 <= self._max_frames and self._bytes * 2 <= self._max_bytes

    async def room(self, timeout: float) -> None:
        """Until the queue is at most half full: history replay paces itself here
        instead of overflowing a client that is reading fine."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._overflowed and not self.has_room():
            if self._drained is None:
                self._drained = asyncio.Event()
            self._drained.clear()
            await asyncio.wait_for(self._drained.wait(), max(0.0, deadline - loop.time()))
