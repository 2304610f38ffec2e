"""A bounded queue of messages for one iterator, closable with a reason.

Bounded so a slow application pushes back on the socket (the reader waits for
room, the gateway's send queue fills, the gateway closes 4008, the client
resumes from its cursor) instead of buffering without limit. ``close`` lets a
waiting reader finish what is queued and then stop, or raise why the client
closed. (``asyncio.Queue`` cannot be closed before Python 3.13.)
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Inbox(Generic[T]):
    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("inbox size must be at least 1")
        self._items: deque[T] = deque()
        self._maxsize = maxsize
        self._closed = False
        self._error: BaseException | None = None
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    def full(self) -> bool:
        return len(self._items) >= self._maxsize

    def put_nowait(self, item: T) -> bool:
        """Queue ``item`` even when full (the caller waited already); ``False`` once closed."""
        if self._closed:
            return False
        self._items.append(item)
        self._readable.set()
        if self.full():
            self._writable.clear()
        return True

    async def put(self, item: T) -> bool:
        """Wait for room, then queue ``item``; ``False`` (not queued) once closed."""
        while self.full() and not self._closed:
            await self._writable.wait()
        return self.put_nowait(item)

    async def get(self) -> T:
        """The oldest item; once closed and empty, ``StopAsyncIteration`` or the close reason."""
        while not self._items:
            if self._closed:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            self._readable.clear()
            await self._readable.wait()
        item = self._items.popleft()
        if not self._items:
            self._readable.clear()
        self._writable.set()
        return item

    def close(self, error: BaseException | None = None) -> None:
        """No more puts; readers get what is queued, then the end (or ``error``)."""
        if self._closed:
            return
        self._closed = True
        self._error = error
        self._readable.set()
        self._writable.set()
