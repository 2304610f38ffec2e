"""What the leader does: dead nodes, expiry, join/leave publishing, tombstones.

That work is split into leader shards (``shards.py``, one shard unless
``presence_shards`` says more): each shard has its own lease, and the
leader of a shard does the work of that shard's sessions only. With one shard
this is the single leader it always was.

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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from haws.common import names
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
from haws.presence.shards import ReplicaRoster, shard_of
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
        leases: Sequence[LeaderLease],
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
        roster: ReplicaRoster | None = None,
        announce: Callable[[], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``leases``: one per shard, in shard order. ``roster`` (with more than one
        shard): the live replicas, so a lease held here that another replica should
        hold is handed over; ``announce`` tells the others this replica lives."""
        self._leases = list(leases)
        self._shards = len(self._leases)
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
        self._roster = roster
        self._announce = announce
        self._clock = clock
        self._terms = [0] * self._shards
        self._published = [0] * self._shards
        """Per shard: the emitted revision known flushed, written into its lease."""
        self._began = [0.0] * self._shards
        """Per shard: when this replica's term began (a new leader trusts no older silence)."""
        self._dead: set[str] = set()
        self._views = [LeaseView(False, 0, None, 0) for _ in range(self._shards)]
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def ttl(self) -> float:
        return self._leases[0].ttl

    def _leads(self, shard: int) -> bool:
        return self._leases[shard].is_leader and self._emitter.leads(shard)

    @property
    def led(self) -> list[int]:
        """The shards this replica leads now."""
        return [k for k in range(self._shards) if self._leads(k)]

    @property
    def leading(self) -> bool:
        """Whether this replica leads any shard (with one shard: is the leader)."""
        return bool(self.led)

    def _leads_session(self, session: str) -> bool:
        return self._leads(shard_of(session, self._shards))

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._every(self.ttl / 3, self.lease_tick), name="lease"),
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
        """Stop both loops, then hand over at once: stop publishing, leave the leases vacant."""
        await stop_tasks(self._tasks)
        self._tasks = []
        emitted = list(self._published)
        if self._emitter.active:
            marks = [self._emitter.emitted(k) for k in range(self._shards)]
            try:
                await asyncio.wait_for(self._emitter.flush(), self._t.flush_timeout)
                emitted = marks
            except Exception as exc:  # NATS trouble: the successors re-send from earlier
                self._log.warning("presence.flush_failed", error=repr(exc))
        for shard in range(self._shards):
            self._step_down(shard, "stopping")
        await asyncio.gather(*(lease.release(emitted[k]) for k, lease in enumerate(self._leases)))

    async def lease_tick(self) -> None:
        if self._announce is not None:
            await self._announce()
        if self._emitter.active:
            marks = [self._emitter.emitted(k) for k in range(self._shards)]
            try:
                await asyncio.wait_for(self._emitter.flush(), self._t.flush_timeout)
                self._published = [
                    mark if self._emitter.leads(k) else old
                    for k, (mark, old) in enumerate(zip(marks, self._published, strict=True))
                ]
            except Exception as exc:  # NATS trouble: the leases keep the older marks
                self._log.warning("presence.flush_failed", error=repr(exc))
        await asyncio.gather(*(self._shard_tick(k) for k in range(self._shards)))

    async def _shard_tick(self, shard: int) -> None:
        lease = self._leases[shard]
        if lease.is_leader and self._roster is not None and not self._roster.prefers_me(shard):
            # Another live replica should lead this shard (it joined, or came back):
            # stop publishing, then leave the lease vacant for it to take at once.
            self._step_down(shard, "handed over")
            await lease.release(self._published[shard])
            self._log.info("presence.shard_handed_over", shard=shard, to=self._roster.choice(shard))
        view = await lease.tick(self._published[shard])
        self._views[shard] = view
        if view.leader and view.term != self._terms[shard]:
            await self._begin(shard, view)
        elif not view.leader:
            self._step_down(shard, "lease lost")
        self._emitter.trim(self._published[shard] if view.leader else view.emitted, shard)

    async def _begin(self, shard: int, view: LeaseView) -> None:
        self._terms[shard] = view.term
        # Nodes this replica may not have heard get a full heartbeat timeout from now.
        self._began[shard] = self._clock()
        resent = await self._emitter.activate(after=view.emitted, shard=shard)
        self._published[shard] = view.emitted
        self._metrics.is_leader.set(1)
        self._metrics.shards_led.set(len(self.led))
        events = self._relay.activate(shard) if self._relay is not None else 0
        self._log.info(
            "presence.leading",
            shard=shard,
            term=view.term,
            resent=resent,
            after=view.emitted,
            events=events,
        )

    def _step_down(self, shard: int, why: str) -> None:
        if self._relay is not None:
            self._relay.deactivate(shard)
        if self._emitter.leads(shard):
            self._emitter.deactivate(shard)
            self._metrics.is_leader.set(1 if self._emitter.active else 0)
            self._metrics.shards_led.set(len(self.led))
            self._log.info(
                "presence.following", shard=shard, why=why, holder=self._views[shard].holder
            )

    def allow_all(self) -> None:
        """After this replica missed heartbeats (NATS reconnect): nobody dies for it."""
        self._liveness.allow(self._index.online_nodes())

    async def sweep(self) -> None:
        for shard in range(self._shards):
            if self._emitter.leads(shard) and not self._leases[shard].is_leader:
                self._step_down(shard, "lease lapsed")
        if self.leading:
            await self._dead_nodes()
            await self._expire()
            await self._purge_tombstones()
        else:
            self._tombstones.due(time.time(), self._t.tombstone_age, len(self._tombstones))
        self._gauges()

    async def _dead_nodes(self) -> None:
        timeout = self._t.heartbeat_timeout
        now = self._clock()
        # Only shards led for longer than the timeout: silence before a term began
        # may be this replica's own (it could not hear), so it proves nothing.
        ripe = {k for k in self.led if now - self._began[k] > timeout}
        nodes = self._index.online_nodes()
        self._dead.intersection_update(nodes)  # a node that owns nothing is forgotten
        for node in nodes:
            silent = self._liveness.silent_for(node)
            if silent <= timeout:
                self._dead.discard(node)
                continue
            sessions = [
                s for s in self._index.online_sessions(node) if shard_of(s, self._shards) in ripe
            ]
            if not sessions:
                continue
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
            and self._leads_session(session)
        ]

        async def expire(session: str) -> None:
            outcome = await self._ownership.expire(session)
            if outcome.written:
                self._metrics.expired.inc()
                self._log.info("presence.expired", session=session)

        await self._each(due, expire)

    async def _purge_tombstones(self) -> None:
        prefix = names.KV_PRESENCE_OWNER_PREFIX
        for key, revision in self._tombstones.due(
            time.time(), self._t.tombstone_age, PURGES_PER_SWEEP
        ):
            # Every replica queues every marker: each purges those of its own shards.
            session = key[len(prefix) :] if key.startswith(prefix) else key
            if self._leads_session(session):
                await self._store.forget(key, revision)

    async def revive(self, node: str, sessions: list[str]) -> None:
        """A node back from a pause still holds ``sessions``: those offline but still its own
        come back online (unless already expired), so its clients do not leave."""
        mine = [
            s
            for s in sessions
            if self._leads_session(s)
            and (e := self._index.get(s)) is not None
            and e.record.node == node
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
                if not self._leads_session(session):
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
        led = len(self.led)
        self._metrics.is_leader.set(1 if led else 0)
        self._metrics.shards_led.set(led)
        self._liveness.forget_silent(
            max(60.0, 10 * self._t.heartbeat_timeout), keep=set(self._index.online_nodes())
        )
