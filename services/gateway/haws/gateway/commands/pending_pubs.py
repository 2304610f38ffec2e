"""A connection's publishes waiting for their PubAck: bounded, and owned until done.

Each ``pub`` runs in its own task so a slow PubAck never holds up the reader; at
most ``limit`` wait at once and the reader waits beyond. Nothing is allocated
before the first ``pub``: most connections only subscribe.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from haws.common.tasks import stop_tasks


class PendingPubs:
    __slots__ = ("_limit", "_room", "_tasks")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._tasks: set[asyncio.Task[None]] | None = None
        self._room: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        return len(self._tasks) if self._tasks is not None else 0

    async def start(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` as an owned task, once fewer than ``limit`` are running."""
        try:
            while len(self) >= self._limit:
                if self._room is None:
                    self._room = asyncio.get_running_loop().create_future()
                await asyncio.shield(self._room)
        except BaseException:
            coro.close()
            raise
        if self._tasks is None:
            self._tasks = set()
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        if self._tasks is not None:
            self._tasks.discard(task)
        room, self._room = self._room, None
        if room is not None and not room.done():
            room.set_result(None)

    async def finish(self) -> None:
        """Until every publish started has its answer (the reader ended normally)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks))

    async def cancel(self) -> None:
        if self._tasks:
            await stop_tasks(list(self._tasks))
