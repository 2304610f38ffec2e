"""Self-fencing after a pause: a node that was stopped (SIGSTOP, a long GC, a VM
freeze) must not deliver to sessions it lost meanwhile.

The heartbeat loop ticks every second. Delivery checks the time since the last
tick; past the pause threshold it waits until the heartbeat loop has asked the
presence service which of its sessions now live elsewhere and closed those.
A node without a presence service never fences (there is no owner to ask).
"""

from __future__ import annotations

import asyncio


class Fence:
    def __init__(self, threshold: float) -> None:
        self._threshold = threshold
        self._loop = asyncio.get_running_loop()
        self._last_tick = self._loop.time()
        self._open = asyncio.Event()
        self._open.set()
        self.enabled = False
        """True while a presence service answers: only then is there an owner to ask."""

    def tick(self) -> None:
        self._last_tick = self._loop.time()

    @property
    def paused(self) -> bool:
        """Whether the node has not ticked for longer than the threshold."""
        return self._loop.time() - self._last_tick > self._threshold

    def is_open(self) -> bool:
        if self.enabled and self.paused:
            self._open.clear()
        return self._open.is_set()

    async def wait_open(self) -> None:
        if not self.is_open():
            await self._open.wait()

    @property
    def closed(self) -> bool:
        return not self._open.is_set()

    def close(self) -> None:
        self._open.clear()

    def reopen(self) -> None:
        self.tick()
        self._open.set()
