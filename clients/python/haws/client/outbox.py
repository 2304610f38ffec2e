"""Requests waiting for their reply: sent, re-sent after every reconnect, until answered.

A publish stays here from ``publish()`` until its ``ack`` (or a final error), so
a connection lost before the ack means the same frame, same ``mid``, goes out
again on the next connection and the stream's duplicate window stores it once.
Subscriptions waiting for their ``ok`` live here too, so they survive a
reconnect the same way. The bound keeps a long outage from eating the memory.
"""

from __future__ import annotations

import asyncio
import heapq
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from haws.client.types import OutboxFull


@dataclass(eq=False, slots=True)
class Request:
    id: int
    frame: dict[str, Any]
    """The frame as sent (``id`` included)."""
    encoded: bytes
    """``frame`` encoded once with the client's codec; every (re-)send writes these bytes."""
    future: asyncio.Future[Any] | None = None
    """Resolved with the reply; ``None`` for requests the SDK makes on its own."""
    failures: int = 0
    """Retryable errors so far (for the retry backoff)."""
    bounded: bool = field(default=True, repr=False)


class Outbox:
    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("outbox limit must be at least 1")
        self._limit = limit
        self._entries: dict[int, Request] = {}
        self._bounded = 0
        self._ready: deque[Request] = deque()
        self._delayed: list[tuple[float, int, Request]] = []
        self.changed = asyncio.Event()
        """Set whenever something became ready to send."""

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, rid: object) -> bool:
        return rid in self._entries

    def add(self, request: Request) -> None:
        """Queue ``request`` to be sent; ``OutboxFull`` when ``limit`` bounded ones wait."""
        if request.bounded:
            if self._bounded >= self._limit:
                raise OutboxFull(f"{self._limit} requests already wait for a reply")
            self._bounded += 1
        self._entries[request.id] = request
        self._ready.append(request)
        self.changed.set()

    def get(self, rid: int) -> Request | None:
        return self._entries.get(rid)

    def pop(self, rid: int) -> Request | None:
        """Forget a request (answered, failed or abandoned); it is never sent again."""
        request = self._entries.pop(rid, None)
        if request is not None and request.bounded:
            self._bounded -= 1
        return request

    def values(self) -> list[Request]:
        return list(self._entries.values())

    def restart(self) -> None:
        """A new connection: everything unanswered is sent again, in the original order."""
        self._delayed.clear()
        self._ready = deque(self._entries.values())
        self.changed.set()

    def retry_later(self, request: Request, at: float) -> None:
        """Send ``request`` again on this connection at loop time ``at``."""
        heapq.heappush(self._delayed, (at, request.id, request))
        self.changed.set()

    def take_ready(self, now: float) -> list[Request]:
        """Requests to send now, oldest first; delayed retries whose time has come join them."""
        while self._delayed and self._delayed[0][0] <= now:
            self._ready.append(heapq.heappop(self._delayed)[2])
        ready = [r for r in self._ready if r.id in self._entries]
        self._ready.clear()
        return ready

    def next_retry_at(self) -> float | None:
        return self._delayed[0][0] if self._delayed else None

    def clear(self) -> list[Request]:
        """Forget everything (the client closes); returns what was pending."""
        pending = list(self._entries.values())
        self._entries.clear()
        self._bounded = 0
        self._ready.clear()
        self._delayed.clear()
        return pending
