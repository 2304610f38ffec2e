"""A ``Leadership`` on an in-memory store, as the presence unit tests build one."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from haws.presence.emitter import ChangeEmitter
from haws.presence.index import PresenceIndex
from haws.presence.leader import Leadership, LeaderTimings
from haws.presence.lease import LeaderLease
from haws.presence.liveness import NodeLiveness
from haws.presence.metrics import PresenceMetrics
from haws.presence.ownership import Ownership
from haws.presence.shards import ReplicaRoster
from haws.presence.store_memory import MemoryStore
from haws.presence.tombstones import Tombstones
from haws.presence.transitions import Grace
from tests.unit.presence.fakes import LOG, ListSink

TIMINGS = LeaderTimings(
    heartbeat_timeout=1.0,
    grace=Grace.uniform(1.0),
    sweep_interval=0.05,
    tombstone_age=60.0,
    flush_timeout=1.0,
)


def leadership(
    store: MemoryStore,
    leases: Sequence[LeaderLease],
    *,
    roster: ReplicaRoster | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Leadership:
    """One lease per shard, in shard order."""
    index, metrics = PresenceIndex(), PresenceMetrics()
    emitter = ChangeEmitter(ListSink(), metrics, LOG, log_size=100, shards=len(leases))
    return Leadership(
        leases=leases,
        emitter=emitter,
        index=index,
        liveness=NodeLiveness(clock=clock),
        ownership=Ownership(store, index, metrics, LOG, grace=Grace.uniform(1.0), attempts=3),
        tombstones=Tombstones(),
        store=store,
        metrics=metrics,
        log=LOG,
        timings=TIMINGS,
        roster=roster,
        clock=clock,
    )
