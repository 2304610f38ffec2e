"""The broker in memory: one stream, its live feeds, its history, for unit tests.

It keeps the promises the seams state and the JetStream stream keeps: seqs grow
across topics, ``prev`` is the topic's previous seq at store time, a ``mid`` is
deduplicated inside the window, live feeds deliver in order from a task of their
own (a callback never runs inside ``publish``), and history reads report what
``drop`` removed as a gap exactly as the stream reader does. ``lose_live`` lets
a test drop the next live deliveries of a topic, as core NATS may.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from haws.common import presence_protocol as pp
from haws.common.messages import StoredMessage
from haws.common.stream_reader import MAX_BATCH, HistoryPage, page_of
from haws.gateway.broker.seams import ChangeHandler, LiveHandler
from haws.protocol.codec import encode_payload
from haws.protocol.errors import Internal, Unavailable

DUPLICATE_WINDOW = 120.0
"""Seconds a ``mid`` is remembered (the stream's default duplicate window)."""

FEED_QUEUE = 100_000
"""Live messages held per feed before the oldest is dropped (core NATS' pending limit)."""


class _MemoryFeed:
    """One subscriber's deliveries, in order, from a task of its own."""

    def __init__(self, handler: Callable[[Any], Awaitable[None]], owner: set[_MemoryFeed]) -> None:
        self._handler = handler
        self._owner = owner
        self._queue: asyncio.Queue[Any] = asyncio.Queue(FEED_QUEUE)
        self._task: asyncio.Task[None] | None = asyncio.create_task(self._run(), name="memory-feed")
        owner.add(self)

    def put(self, item: Any) -> None:
        with contextlib.suppress(asyncio.QueueFull):  # at most once, like core NATS
            self._queue.put_nowait(item)

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                await self._handler(item)
            finally:
                self._queue.task_done()

    async def idle(self) -> None:
        await self._queue.join()

    async def stop(self) -> None:
        self._owner.discard(self)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class MemoryBroker:
    """``MessageStore``, ``LiveFeed`` and ``History`` over one in-memory stream."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._seq = 0
        self._messages: dict[str, list[StoredMessage]] = {}
        """Per topic, the retained messages in seq order."""
        self._last: dict[str, int] = {}
        """Per topic, the last seq ever stored (``prev`` of the next one)."""
        self._mids: dict[str, tuple[int, float]] = {}
        self._live: dict[str, set[_MemoryFeed]] = {}
        self._changes: dict[str, set[_MemoryFeed]] = {}
        self._lose: dict[str, int] = {}
        self.connected = True
        """False: publishes fail ``unavailable``, as while NATS is reconnecting."""

    # MessageStore

    async def publish(
        self, topic: str, data: Any, *, mid: str | None, sender: str | None, request_id: int
    ) -> tuple[int, bool]:
        if not self.connected:
            raise Unavailable("message not stored: broker disconnected", request_id=request_id)
        try:
            body = encode_payload(data)
        except (TypeError, ValueError) as exc:
            raise Internal(f"cannot store data: {exc}", request_id=request_id) from None
        now = self._clock()
        if mid is not None:
            seen = self._mids.get(mid)
            if seen is not None and now - seen[1] < DUPLICATE_WINDOW:
                return seen[0], True
        self._seq += 1
        seq = self._seq
        message = StoredMessage(
            topic, seq, self._last.get(topic, 0), int(now * 1000), body, sender=sender, mid=mid
        )
        self._last[topic] = seq
        self._messages.setdefault(topic, []).append(message)
        if mid is not None:
            self._mids[mid] = (seq, now)
        lose = self._lose.get(topic, 0)
        if lose:
            self._lose[topic] = lose - 1
        else:
            for feed in list(self._live.get(topic, ())):
                feed.put(message)
        return seq, False

    # LiveFeed

    async def live(self, topic: str, on_message: LiveHandler) -> _MemoryFeed:
        return _MemoryFeed(on_message, self._live.setdefault(topic, set()))

    async def presence_changes(self, topic: str, on_change: ChangeHandler) -> _MemoryFeed:
        return _MemoryFeed(on_change, self._changes.setdefault(topic, set()))

    # History

    async def read(
        self, topic: str, after: int, limit: int = MAX_BATCH, *, until: int | None = None
    ) -> HistoryPage:
        # The same answer as ``StreamReader.read``: the same replies (from the cursor
        # itself, ``limit + 1`` of them) through the same ``page_of``.
        limit = max(1, min(limit, MAX_BATCH))
        retained = self._messages.get(topic, [])
        start = max(after, 1)
        replies = [m for m in retained if m.seq >= start]
        rest = len(replies)
        replies = replies[: limit + 1]
        return page_of(
            replies,
            after=after,
            limit=limit,
            until=until,
            seq_of=lambda stored: stored.seq,
            message_of=lambda stored, seq, prev: StoredMessage(
                topic, seq, prev, stored.ts, stored.body, stored.sender, stored.mid
            ),
            more_beyond=rest > len(replies),
        )

    async def last_seq(self, topic: str) -> int:
        retained = self._messages.get(topic)
        return retained[-1].seq if retained else 0

    # What tests do to the broker

    def drop(self, topic: str, through: int) -> None:
        """Retention: forget the topic's messages with ``seq <= through``."""
        self._messages[topic] = [m for m in self._messages.get(topic, []) if m.seq > through]

    def lose_live(self, topic: str, count: int = 1) -> None:
        """The next ``count`` messages of ``topic`` are stored but never reach a live feed."""
        self._lose[topic] = self._lose.get(topic, 0) + count

    def change(self, change: pp.Change) -> None:
        """A join or leave the presence service would publish."""
        for feed in list(self._changes.get(change.topic, ())):
            feed.put(change)

    async def close(self) -> None:
        """Stop every feed still open (their owners normally stop them)."""
        for feeds in (*self._live.values(), *self._changes.values()):
            for feed in list(feeds):
                await feed.stop()

    async def settled(self) -> None:
        """Until every live feed has handed on what it was given."""
        for feeds in (*self._live.values(), *self._changes.values()):
            for feed in list(feeds):
                await feed.idle()
