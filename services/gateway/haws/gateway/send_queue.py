"""The bounded per-connection outbound queue, emptied by the node's flush pass.

Enqueueing never blocks fan-out: a subscriber that cannot keep up overflows its
own queue and is closed with 4008 (nothing is lost: it resumes from its cursor),
while every other subscriber goes on.

An idle connection's queue holds no list at all (``None``): most connections
are idle most of the time, and a list per connection is memory for nothing.
"""

from __future__ import annotations

import asyncio


class SendQueue:
    __slots__ = ("_bytes", "_drained", "_frames", "_max_bytes", "_max_frames", "_overflowed")

    def __init__(self, max_frames: int, max_bytes: int) -> None:
        self._frames: list[bytes] | None = None
        self._bytes = 0
        self._max_frames = max_frames
        self._max_bytes = max_bytes
        self._overflowed = False
        self._drained: asyncio.Event | None = None

    def __len__(self) -> int:
        frames = self._frames
        return len(frames) if frames is not None else 0

    @property
    def queued_bytes(self) -> int:
        return self._bytes

    @property
    def overflowed(self) -> bool:
        return self._overflowed

    def put(self, frame: bytes) -> bool:
        """Queue one encoded frame; ``False`` (and nothing queued) when over a limit.

        The first refusal empties the queue and marks it overflowed for good: the
        connection is closing 4008.
        """
        if self._overflowed:
            return False
        size = self._bytes + len(frame)
        frames = self._frames
        if frames is None:
            if size <= self._max_bytes:
                self._frames = [frame]
                self._bytes = size
                return True
        elif len(frames) < self._max_frames and size <= self._max_bytes:
            frames.append(frame)
            self._bytes = size
            return True
        self._overflowed = True
        self._frames = None
        self._bytes = 0
        return False

    def take_all(self) -> list[bytes]:
        frames = self._frames
        if frames is None:
            return []
        self._frames = None
        self._bytes = 0
        if self._drained is not None:
            self._drained.set()
        return frames

    def has_room(self) -> bool:
        """At most half full (the level ``room`` waits for)."""
        return len(self) * 2 <= self._max_frames and self._bytes * 2 <= self._max_bytes

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
