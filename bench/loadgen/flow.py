"""End-to-end flow control: publish only as fast as every subscriber receives.

The highest *sustained* rate is the one at which deliveries keep up. A server
that acks before fanning out (haws acks once JetStream stored the message)
would otherwise let the publisher run ahead until queues overflow. ``Flow``
keeps at most ``window`` messages per subscriber between publishing and
arrival, counted in aggregate so the hot path only adds one integer per chunk.
"""

from __future__ import annotations

import asyncio


class Flow:
    __slots__ = ("delivered", "fanout", "published", "waiter", "window")

    def __init__(self, fanout: int, window: int) -> None:
        if fanout < 1 or window < 1:
            raise ValueError("fanout and window must be at least 1")
        self.fanout = fanout
        self.window = window
        self.published = 0
        self.delivered = 0
        self.waiter: asyncio.Future[None] | None = None

    def credit(self) -> bool:
        """True while fewer than ``window`` messages per subscriber are in flight."""
        return (self.published - self.window) * self.fanout < self.delivered

    def add(self, delivered: int) -> None:
        """Subscribers report ``delivered`` new messages; wakes a waiting publisher."""
        self.delivered += delivered
        waiter = self.waiter
        if waiter is not None and not waiter.done() and self.credit():
            waiter.set_result(None)

    def wake(self) -> None:
        """Let the publisher re-check (an ack arrived, a deadline passed)."""
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self, timeout: float) -> None:
        """Until ``add``/``wake`` or ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        self.waiter = waiter = loop.create_future()
        handle = loop.call_later(timeout, self.wake)
        try:
            await waiter
        finally:
            handle.cancel()
            self.waiter = None
