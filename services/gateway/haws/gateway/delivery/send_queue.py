"""The bounded per-connection outbound queue, emptied by the node's flush pass.

Enqueueing never blocks fan-out: a subscriber that cannot keep up overflows its
own queue and is closed with 4008 (nothing is lost: it resumes from its cursor),
while every other subscriber goes on.

Most connections hold at most one frame between two flush passes, so one frame
is kept as is and a list is made only for a second: an idle connection holds no
list, and fan-out creates no container per subscriber (no garbage-collector
pressure: a fan-out to thousands would otherwise trigger a collection per
message).
"""

from __future__ import annotations

import asyncio
from typing import cast


class SendQueue:
    __slots__ = (
        "_bytes",
        "_count",
        "_drained",
        "_many",
        "_max_bytes",
        "_max_frames",
        "_one",
        "_overflowed",
    )

    def __init__(self, max_frames: int, max_bytes: int) -> None:
        self._one: bytes | None = None
        self._many: list[bytes] | None = None
        self._count = 0
        self._bytes = 0
        self._max_frames = max_frames
        self._max_bytes = max_bytes
        self._overflowed = False
        self._drained: asyncio.Event | None = None

    def __len__(self) -> int:
        return self._count

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
        count = self._count
        size = self._bytes + len(frame)
        if count < self._max_frames and size <= self._max_bytes:
            if count == 0:
                self._one = frame
            elif self._many is None:
                self._many = [cast(bytes, self._one), frame]
                self._one = None
            else:
                self._many.append(frame)
            self._count = count + 1
            self._bytes = size
            return True
        self._overflowed = True
        self._one = self._many = None
        self._count = self._bytes = 0
        return False

    def fits(self, count: int, size: int) -> bool:
        """``count`` frames of ``size`` bytes in all would be taken by an empty queue
        (a run written past the queue obeys the same limits as one queued)."""
        return count <= self._max_frames and size <= self._max_bytes and not self._overflowed

    def take_all(self) -> list[bytes]:
        if self._many is not None:
            frames = self._many
        elif self._one is not None:
            frames = [self._one]
        else:
            return []
        self._one = self._many = None
        self._count = self._bytes = 0
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
