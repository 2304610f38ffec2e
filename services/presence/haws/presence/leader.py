"""What the one leader does: dead nodes, expiry, join/leave publishing, tombstones.

Two loops (three with counts-only mode: the coalesced counts every interval),
started by ``start`` and ended by ``stop``: the lease loop (renew
or watch the lease every ``ttl / 3``, and start or end this replica's term) and
the sweep loop (every ``sweep_interval``: gauges on every replica; on the
leader, nodes silent for longer than the heartbeat timeout lose their online
sessions, records offline for longer than the grace are deleted, and old
delete markers are purged).
They are separate so a long sweep never delays a renewal. They are two tasks
owned here, not a ``TaskGroup``: a group cancels its children only once, and on
Python 3.11 a cancellation landing as a NATS reply arrives is swallowed by
``asyncio.wait_for``, so a loop could go on and hold ``stop`` (and the replica's
shutdown) for ever; ``stop_tasks`` cancels again until they are done. Every write is a
compare-and-set, so a leader that overlaps its successor for a moment does no
harm beyond a repeated join/leave, which carries the same revision.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from haws.common.logs import EventLogger
from haws.common.tasks import stop_tasks
from haws.presence import transitions
from haws.presence.emitter import ChangeEmitter
from haws.presence.event_relay import EventRelay
from haws.presence.index import PresenceIndex
from haws.presence.lease import LeaderLease, LeaseView
from haws.presence.liveness import NodeLiveness
from haws.presence.metrics import PresenceMetrics
from haws.presence.ownership import Ownership
from haws.presence.store import StoreError, VersionedStore
from haws.presence.tombstones import Tombstones

PARALLEL_WRITES = 64
PURGES_PER_SWEEP = 256


@dataclass(frozen=True, slots=True)
class LeaderTimings:
    heartbeat_timeout: float
    grace: transitions.Grace
    sweep_interval: float
    tombstone_age: float
    flush_timeout: float


class Leadership:
    def __init__(
        self,
        *,
        lease: LeaderLease,
        emitter: ChangeEmitter,
        index: PresenceIndex,
        liveness: NodeLiveness,
        ownership: Ownership,
        tombstones: Tombstones,
        store: VersionedStore,
        metrics: PresenceMetrics,
        log: EventLogger,
        timings: LeaderTimings,
        relay: EventRelay | None = None,
    ) -> None:
        self._lease = lease
        self._emitter = emitter
        self._index = index
        self._liveness = liveness
        self._ownership = ownership
        self._tombstones = tombstones
        self._store = store
        self._metrics = metrics
        self._log = log
        self._t = timings
        self._relay = relay
        self._term = 0
        self._published = 0  # the emitted revision known flushed, written into the lease
        self._dead: set[str] = set()
        self._view = LeaseView(False, 0, None, 0)
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def leading(self) -> bool:
        return self._lease.is_leader and self._emitter.active

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._every(self._lease.ttl / 3, self.lease_tick), name="lease"),
            asyncio.create_task(self._every(self._t.sweep_interval, self.sweep), name="sweep"),
        ]
        large = self._emitter.large
        if large is not None and large.enabled:
            every = large.limits.interval
            self._tasks.append(
                asyncio.create_task(self._every(every, self._emitter.publish_counts), name="counts")
            )

    async def _every(self, interval: float, work: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await work()
            except StoreError as exc:
                self._log.warning("presence.leader_step_failed", error=str(exc))
            except Exception:
                self._log.exception("presence.leader_step_crashed")
            await asyncio.sleep(interval)  # a period, not a synchronisation

    async def stop(self) -> None:
        """Stop both loops, then hand over at once: stop publishing, leave the lease vacant."""
        await stop_tasks(self._tasks)
        self._tasks = []
        emitted = self._published
        if self._emitter.active:
            try:
                await asyncio.wait_for(self._emitter.flush(), self._t.flush_timeout)
                emitted = self._emitter.emitted
            except Exception as exc:  # NATS trouble: the successor re-sends from earlier
                self._log.warning("presence.flush_failed", error=repr(exc))
        self._step_down("stopping")
        await self._lease.release(emitted)

    async def lease_tick(self) -> None:
        if self._emitter.active:
            emitted = self._emitter.emitted
            try:
                await asyncio.wait_for(self._emitter.flush(), self._t.flush_timeout)
                self._published = emitted
            except Exception as exc:  # NATS trouble: the lease keeps the older mark
                self._log.warning("presence.flush_failed", error=repr(exc))
        view = await self._lease.tick(self._published)
        self._view = view
        if view.leader and view.term != self._term:
            await self._begin(view)
        elif not view.leader:
            self._step_down("lease lost")
        self._emitter.trim(self._published if view.leader else view.emitted)

    async def _begin(self, view: LeaseView) -> None:
        self._term = view.term
        # Nodes this replica may not have heard get a full heartbeat timeout from now.
        self._liveness.allow(self._index.online_nodes())
        resent = await self._emitter.activate(after=view.emitted)
        self._published = view.emitted
        self._metrics.is_leader.set(1)
        events = self._relay.activate() if self._relay is not None else 0
        self._log.info(
            "presence.leading", term=view.term, resent=resent, after=view.emitted, events=events
        )

    def _step_down(self, why: str) -> None:
        if self._relay is not None:
            self._relay.deactivate()
        if self._emitter.active:
            self._emitter.deactivate()
            self._metrics.is_leader.set(0)
            self._log.info("presence.following", why=why, holder=self._view.holder)

    def allow_all(self) -> None:
        """After this replica missed heartbeats (NATS reconnect): nobody dies for it."""
        self._liveness.allow(self._index.online_nodes())

    async def sweep(self) -> None:
        if self._emitter.active and not self._lease.is_leader:
            self._step_down("lease lapsed")
        if self.leading:
            await self._dead_nodes()
            await self._expire()
            await self._purge_tombstones()
        else:
            self._tombstones.due(time.time(), self._t.tombstone_age, len(self._tombstones))
        self._gauges()

    async def _dead_nodes(self) -> None:
        nodes = self._index.online_nodes()
        self._dead.intersection_update(nodes)  # a node that owns nothing is forgotten
        for node in nodes:
            silent = self._liveness.silent_for(node)
            if silent <= self._t.heartbeat_timeout:
                self._dead.discard(node)
                continue
            sessions = self._index.online_sessions(node)
            if node not in self._dead:
                self._dead.add(node)
                self._metrics.nodes_dead.inc()
                self._log.warning(
                    "presence.node_dead", node=node, silent=round(silent, 2), sessions=len(sessions)
                )
            await self._each(sessions, functools.partial(self._ownership.mark_offline, node=node))

    async def _expire(self) -> None:
        now = time.time()
        due = [
            session
            for session, entry in self._index.offline_entries()
            if transitions.expired(entry.record, now, self._t.grace)
        ]

        async def expire(session: str) -> None:
            outcome = await self._ownership.expire(session)
            if outcome.written:
                self._metrics.expired.inc()
                self._log.info("presence.expired", session=session)

        await self._each(due, expire)

    async def _purge_tombstones(self) -> None:
        for key, revision in self._tombstones.due(
            time.time(), self._t.tombstone_age, PURGES_PER_SWEEP
        ):
            await self._store.forget(key, revision)

    async def revive(self, node: str, sessions: list[str]) -> None:
        """A node back from a pause still holds ``sessions``: those offline but still its own
        come back online (unless already expired), so its clients do not leave."""
        if not self.leading:
            return
        mine = [
            s for s in sessions if (e := self._index.get(s)) is not None and e.record.node == node
        ]

        async def revive(session: str) -> None:
            if (await self._ownership.revive(session, node)).written:
                self._log.info("presence.revived", session=session, node=node)

        await self._each(mine, revive)

    async def _each(self, sessions: list[str], act: Callable[[str], Awaitable[object]]) -> None:
        """``act`` on every session, a bounded number at once; a failure waits for next sweep."""
        slots = asyncio.Semaphore(PARALLEL_WRITES)

        async def one(session: str) -> None:
            async with slots:
                if not self._lease.is_leader:
                    return
                try:
                    await act(session)
                except StoreError as exc:
                    self._log.warning("presence.write_failed", session=session, error=str(exc))

        async with asyncio.TaskGroup() as group:
            for session in sessions:
                group.create_task(one(session))

    def _gauges(self) -> None:
        self._metrics.members.set(self._index.memberships)
        if self._emitter.large is not None:
            self._metrics.counts_topics.set(self._emitter.large.counting_topics)
        self._metrics.sessions.labels("online").set(self._index.online_count)
        self._metrics.sessions.labels("offline").set(self._index.offline_count)
        self._metrics.nodes_alive.set(self._liveness.alive(self._t.heartbeat_timeout))
        self._metrics.is_leader.set(1 if self.leading else 0)
        self._liveness.forget_silent(
            max(60.0, 10 * self._t.heartbeat_timeout), keep=set(self._index.online_nodes())
        )
