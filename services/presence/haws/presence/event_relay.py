"""Storing lifecycle events in ``HAWS_EVENTS``: the leader's job, at least once, in order.

(At least once while JetStream answers: past ``log_size`` events pending, new
ones are dropped and counted, so an outage cannot grow memory without bound.)

Every replica records the events its index computes, in a log kept for
``resend_window`` seconds; only the active replica (the leader) stores them.
Events of one session go through one of ``SHARDS`` ordered workers, each
retrying an event until JetStream acknowledges it before taking the next, so
a session's events are stored in the order they happened. A new leader first
re-sends its whole log: the event ids repeat and ``Nats-Msg-Id`` drops the ones
its predecessor had already stored (the window is shorter than the stream's
duplicate window), so what a dying leader had not stored is not lost.

With leader shards (``shards.py``) a replica stores the events of the sessions
whose shard it leads, and a new shard leader re-sends that shard's part of its log.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections import deque
from collections.abc import Callable
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter

from haws.common import names
from haws.common.ack_inbox import AckInbox
from haws.common.logs import EventLogger
from haws.common.tasks import stop_tasks
from haws.presence.shards import shard_of
from haws.protocol.lifecycle import LifecycleEvent

SHARDS = 64
RETRY_MAX = 2.0


class EventSink(Protocol):
    async def store(self, event: LifecycleEvent) -> None:
        """Store durably; the same ``id`` twice within the duplicate window is stored once."""
        ...


class JetStreamEventSink:
    def __init__(self, acks: AckInbox, *, timeout: float) -> None:
        self._acks = acks
        self._timeout = timeout

    async def store(self, event: LifecycleEvent) -> None:
        await self._acks.publish(
            names.events_subject(event.type),
            event.encode(),
            {names.HDR_MSG_ID: event.id},
            self._timeout,
        )


class EventRelay:
    def __init__(
        self,
        sink: EventSink,
        log: EventLogger,
        *,
        registry: CollectorRegistry,
        resend_window: float,
        log_size: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
        shards: int = 1,
    ) -> None:
        self._sink = sink
        self._log = log
        self._window = resend_window
        self._clock = clock
        self._recent: deque[tuple[float, LifecycleEvent]] = deque(maxlen=log_size)
        self._max_pending = log_size
        self._queues: list[asyncio.Queue[LifecycleEvent]] = [asyncio.Queue() for _ in range(SHARDS)]
        self._queued = 0
        """Events in the queues, not yet taken by a worker: ``pending`` without a sum
        over every queue on each event."""
        self._tasks: list[asyncio.Task[None]] = []
        self._shards = shards
        self._active: set[int] = set()
        self.stored = Counter(
            "haws_presence_lifecycle_events_total",
            "Lifecycle events stored in HAWS_EVENTS (leader only), re-sends included",
            ["type"],
            registry=registry,
        )
        self.dropped = Counter(
            "haws_presence_lifecycle_events_dropped_total",
            "Lifecycle events not stored because JetStream stayed away past the pending bound",
            registry=registry,
        )

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._work(q), name=f"events-{i}")
            for i, q in enumerate(self._queues)
        ]

    async def stop(self, flush_timeout: float = 2.0) -> None:
        """Store what is queued (within ``flush_timeout``), then stop the workers."""
        if self.active:
            try:
                async with asyncio.timeout(flush_timeout):
                    await asyncio.gather(*(q.join() for q in self._queues))
            except TimeoutError:
                self._log.warning("presence.events_unflushed", pending=self.pending)
        await stop_tasks(self._tasks)
        self._tasks = []

    @property
    def active(self) -> bool:
        """Whether this replica stores the events of any shard."""
        return bool(self._active)

    def _leads(self, event: LifecycleEvent) -> bool:
        return shard_of(event.session, self._shards) in self._active

    @property
    def pending(self) -> int:
        return self._queued

    def record(self, events: list[LifecycleEvent]) -> None:
        """The events of one applied update; queued for storing at once while active."""
        if not events:
            return
        now = self._clock()
        self._trim(now)
        for event in events:
            self._recent.append((now, event))
            if self._leads(event):
                self._enqueue(event)

    def activate(self, shard: int = 0) -> int:
        """Start storing ``shard``'s events; first re-send its part of the log.
        The count re-sent."""
        self._active.add(shard)
        self._trim(self._clock())
        resent = [e for _, e in self._recent if shard_of(e.session, self._shards) == shard]
        for event in resent:
            self._enqueue(event)
        return len(resent)

    def deactivate(self, shard: int = 0) -> None:
        self._active.discard(shard)
        for queue in self._queues:  # the shard's next leader re-sends from its own log
            kept: list[LifecycleEvent] = []
            while not queue.empty():
                event = queue.get_nowait()
                self._queued -= 1
                queue.task_done()
                if self._leads(event):
                    kept.append(event)
            for event in kept:
                queue.put_nowait(event)
                self._queued += 1

    def _trim(self, now: float) -> None:
        while self._recent and now - self._recent[0][0] > self._window:
            self._recent.popleft()

    def _enqueue(self, event: LifecycleEvent) -> None:
        """Queue for storing; past ``log_size`` pending (JetStream away for long) the
        event is dropped and counted rather than letting memory grow without bound."""
        if self.pending >= self._max_pending:
            self.dropped.inc()
            self._log.warning("presence.event_dropped", id=event.id, pending=self.pending)
            return
        self._queues[zlib.crc32(event.session.encode()) % SHARDS].put_nowait(event)
        self._queued += 1

    async def _work(self, queue: asyncio.Queue[LifecycleEvent]) -> None:
        while True:
            event = await queue.get()
            self._queued -= 1
            try:
                await self._store(event)
            finally:
                queue.task_done()

    async def _store(self, event: LifecycleEvent) -> None:
        delay = 0.05
        while self._leads(event):
            try:
                await self._sink.store(event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # JetStream away: this session's later events wait
                self._log.warning("presence.event_store_failed", id=event.id, error=repr(exc))
                await asyncio.sleep(delay)  # back-off between retries, not a synchronisation
                delay = min(delay * 2, RETRY_MAX)
                continue
            self.stored.labels(event.type).inc()
            return
