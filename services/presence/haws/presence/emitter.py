"""Publishing join/leave: the leader's job, with a short memory for leader changes.

Every replica records the changes its index computes, with their KV revision,
in a bounded log; only the active one (the leader) publishes. A new leader
re-sends the logged changes after its predecessor's last published revision
(carried in the lease), so a change that happened while the old leader was dying
is not lost; a re-send repeats the revision, so receivers can drop it.
Followers trim their log to what the leader has published.

With leader shards (``shards.py``) all of that is per shard: each shard has its
own log, floor and active flag, a change goes by its session's shard (a topic's
counts by the topic's), and a replica publishes the changes of the shards it leads.
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
from haws.presence.shards import shard_of


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
        shards: int = 1,
    ) -> None:
        self._sink = sink
        self.large = large
        """Counts-only mode of large topics (None: every topic is per-member)."""
        self._metrics = metrics
        self._log = log
        self.shards = shards
        self._recent: list[deque[Change]] = [deque(maxlen=log_size) for _ in range(shards)]
        self._floor = [0] * shards
        self._active: set[int] = set()
        self.processed = 0
        """The last revision applied to the index."""

    @property
    def active(self) -> bool:
        """Whether this replica publishes for any shard."""
        return bool(self._active)

    def leads(self, shard: int) -> bool:
        return shard in self._active

    def shard(self, change: Change) -> int:
        return shard_of(change.session or change.topic, self.shards)

    def emitted(self, shard: int = 0) -> int:
        """The last revision whose changes of ``shard`` are published (while active)."""
        return max(self.processed, self._floor[shard])

    async def record(self, revision: int, changes: list[Change], *, unseen: bool = False) -> None:
        """The changes of one applied update; published at once for the shards led here.

        ``unseen``: no leader can have published these (a resync found them by
        absence), so they go out even at or below the floor.
        """
        self.processed = max(self.processed, revision)
        if not changes:
            return
        if self.large is not None:
            changes = self.large.sort(changes, revision)
        out: list[Change] = []
        for change in changes:
            shard = self.shard(change)
            self._recent[shard].append(change)
            if shard in self._active and (unseen or revision > self._floor[shard]):
                out.append(change)
        if out:
            await self._publish(out)

    async def activate(self, after: int, shard: int = 0) -> int:
        """Start publishing ``shard``; first re-send what is logged above ``after``.
        The count re-sent."""
        self._floor[shard] = after
        self._active.add(shard)
        if self.large is not None:
            self.large.mark_all()
        pending = [c for c in self._recent[shard] if c.revision > after]
        await self._publish(pending)
        self._floor[shard] = max(after, self.processed)
        return len(pending)

    async def publish_counts(self) -> None:
        """The coalesced counts of counts-only topics that changed, for the shards led
        here (every interval)."""
        if self._active and self.large is not None:
            led = self._active
            due = self.large.due(self.processed, lambda t: shard_of(t, self.shards) in led)
            await self._publish(due)

    def deactivate(self, shard: int = 0) -> None:
        self._active.discard(shard)

    def trim(self, upto: int, shard: int = 0) -> None:
        """Forget changes of ``shard`` at or below ``upto``: its leader has published them."""
        recent = self._recent[shard]
        while recent and recent[0].revision <= upto:
            recent.popleft()

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
