"""Publishing join/leave: the leader's job, with a short memory for leader changes.

Every replica records the changes its index computes, with their KV revision,
in a bounded log; only the active one (the leader) publishes. A new leader
re-sends the logged changes after its predecessor's last published revision
(carried in the lease), so a change that happened while the old leader was dying
is not lost; a re-send repeats the revision, so receivers can drop it.
Followers trim their log to what the leader has published.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Protocol

from nats.aio.client import Client as NatsClient

from haws.common import names
from haws.common.logs import EventLogger
from haws.common.presence_protocol import Change, encode
from haws.presence.large_topics import LargeTopics
from haws.presence.metrics import PresenceMetrics


class ChangeSink(Protocol):
    async def publish(self, subject: str, payload: bytes) -> None:
        """Send one message (at most once; core NATS)."""
        ...

    async def flush(self) -> None:
        """Return once everything published so far has left this process."""
        ...


class ChangeEmitter:
    def __init__(
        self,
        sink: ChangeSink,
        metrics: PresenceMetrics,
        log: EventLogger,
        *,
        log_size: int,
        large: LargeTopics | None = None,
    ) -> None:
        self._sink = sink
        self.large = large
        """Counts-only mode of large topics (None: every topic is per-member)."""
        self._metrics = metrics
        self._log = log
        self._recent: deque[Change] = deque(maxlen=log_size)
        self._floor = 0
        self.active = False
        self.processed = 0
        """The last revision applied to the index."""

    @property
    def emitted(self) -> int:
        """The last revision whose changes are published (meaningful while active)."""
        return max(self.processed, self._floor)

    async def record(self, revision: int, changes: list[Change], *, unseen: bool = False) -> None:
        """The changes of one applied update; published at once while active.

        ``unseen``: no leader can have published these (a resync found them by
        absence), so they go out even at or below the floor.
        """
        self.processed = max(self.processed, revision)
        if not changes:
            return
        if self.large is not None:
            changes = self.large.sort(changes, revision)
        self._recent.extend(changes)
        if self.active and (unseen or revision > self._floor):
            await self._publish(changes)

    async def activate(self, after: int) -> int:
        """Start publishing; first re-send what is logged above ``after``. The count re-sent."""
        self._floor = after
        self.active = True
        if self.large is not None:
            self.large.mark_all()
        pending = [c for c in self._recent if c.revision > after]
        await self._publish(pending)
        self._floor = max(after, self.processed)
        return len(pending)

    async def publish_counts(self) -> None:
        """The leader's coalesced counts of counts-only topics that changed (every interval)."""
        if self.active and self.large is not None:
            await self._publish(self.large.due(self.processed))

    def deactivate(self) -> None:
        self.active = False

    def trim(self, upto: int) -> None:
        """Forget changes at or below ``upto``: the leader has published them."""
        while self._recent and self._recent[0].revision <= upto:
            self._recent.popleft()

    async def _publish(self, changes: list[Change]) -> None:
        for change in changes:
            try:
                await self._sink.publish(
                    names.presence_changes_subject(change.topic), encode(change)
                )
            except Exception as exc:  # closed connection: lost, as core NATS may lose it
                self._log.warning(
                    "presence.publish_failed",
                    session=change.session,
                    topic=change.topic,
                    error=repr(exc),
                )
                continue
            self._metrics.changes.labels(change.kind).inc()
            self._log.debug("presence." + change.kind, session=change.session, topic=change.topic)

    async def flush(self) -> None:
        await self._sink.flush()


class NatsChangeSink:
    """Core NATS: join/leave are at most once on the wire, like the live messages."""

    def __init__(self, nc: NatsClient, *, flush_timeout: float) -> None:
        self._nc = nc
        self._flush_timeout = flush_timeout

    async def publish(self, subject: str, payload: bytes) -> None:
        await self._nc.publish(subject, payload)

    async def flush(self) -> None:
        # nats-py types the timeout as whole seconds.
        await self._nc.flush(timeout=math.ceil(self._flush_timeout))
