"""Leader shards: the roster's choice, eligibility on the lease, and per-shard publishing,
storing and handover (issue 14)."""

from __future__ import annotations

import functools

import pytest
from prometheus_client import CollectorRegistry

from haws.cli.status import render
from haws.common import names
from haws.common.lifecycle import LifecycleEvent
from haws.common.presence_protocol import Change
from haws.common.settings import SettingsError, build_parser
from haws.presence.emitter import ChangeEmitter
from haws.presence.event_relay import EventRelay
from haws.presence.leader import Leadership
from haws.presence.lease import LeaderLease, LeaseValue
from haws.presence.metrics import PresenceMetrics
from haws.presence.settings import PresenceSettings
from haws.presence.shards import ReplicaRoster, shard_of
from haws.presence.store_memory import MemoryStore
from tests.unit.presence.fakes import LOG, ListSink, ManualClock
from tests.unit.presence.leaders import leadership

TTL = 3.0
SHARDS = 4


def session_in(shard: int, shards: int = SHARDS, prefix: str = "s") -> str:
    """A session id that falls in ``shard``."""
    return next(f"{prefix}{i}" for i in range(1000) if shard_of(f"{prefix}{i}", shards) == shard)


def test_one_shard_holds_everything_and_more_spread_every_key_in_range() -> None:
    assert {shard_of(f"s{i}", 1) for i in range(100)} == {0}
    spread = [shard_of(f"s{i}", SHARDS) for i in range(400)]
    assert set(spread) == set(range(SHARDS))
    assert spread == [shard_of(f"s{i}", SHARDS) for i in range(400)]  # the same everywhere


def test_the_roster_gives_shard_k_to_the_k_mod_n_th_live_replica() -> None:
    clock = ManualClock()
    a = ReplicaRoster("a", timeout=TTL, clock=clock)
    b = ReplicaRoster("b", timeout=TTL, clock=clock)
    assert [a.choice(k) for k in range(SHARDS)] == ["a"] * SHARDS  # alone: all of them
    a.heard("b")
    b.heard("a")
    assert [a.choice(k) for k in range(SHARDS)] == ["a", "b", "a", "b"]
    assert [b.choice(k) for k in range(SHARDS)] == [a.choice(k) for k in range(SHARDS)]
    assert [k for k in range(SHARDS) if b.prefers_me(k)] == [1, 3]
    clock.advance(TTL + 0.1)  # b's beats stop: a counts on itself again
    assert a.live() == ["a"]
    assert all(a.prefers_me(k) for k in range(SHARDS))


def lease(store: MemoryStore, holder: str, clock: ManualClock, eligible: bool) -> LeaderLease:
    return LeaderLease(
        store, LOG, holder=holder, ttl=TTL, key="leader.0", clock=clock, eligible=lambda: eligible
    )


async def test_only_the_shard_s_choice_takes_a_vacant_lease_at_once() -> None:
    store, clock = MemoryStore(), ManualClock()
    other = lease(store, "b", clock, eligible=False)
    assert not (await other.tick(0)).leader  # no lease yet: the choice creates it
    choice = lease(store, "a", clock, eligible=True)
    assert (await choice.tick(0)).leader
    await choice.release(emitted=7)  # a handover: vacant, with its mark
    assert not (await other.tick(0)).leader
    clock.advance(TTL + 0.1)
    assert not (await other.tick(0)).leader  # quiet for a ttl is not enough for b
    clock.advance(TTL)
    view = await other.tick(0)  # two ttls: the choice could not take it, b does
    assert view.leader
    assert view.emitted == 7


async def test_a_lease_nobody_created_goes_to_another_replica_after_two_ttls() -> None:
    store, clock = MemoryStore(), ManualClock()
    other = lease(store, "b", clock, eligible=False)
    assert not (await other.tick(0)).leader
    clock.advance(2 * TTL)
    assert (await other.tick(0)).leader


def join(session: str, revision: int) -> Change:
    return Change("join", "t", session, None, revision)


async def test_the_emitter_publishes_and_resends_only_the_shards_it_leads() -> None:
    sink = ListSink()
    em = ChangeEmitter(sink, PresenceMetrics(), LOG, log_size=100, shards=SHARDS)
    s0, s1 = session_in(0), session_in(1)
    await em.activate(after=0, shard=0)
    await em.record(1, [join(s0, 1), join(s1, 1)])
    assert [c.session for c in sink.changes()] == [s0]
    assert em.leads(0)
    assert not em.leads(1)
    assert await em.activate(after=0, shard=1) == 1  # shard 1's log, not shard 0's
    assert [c.session for c in sink.changes()] == [s0, s1]
    em.trim(5, shard=1)
    em.deactivate(1)
    assert await em.activate(after=0, shard=1) == 0  # trimmed: its leader had sent it
    await em.record(2, [join(session_in(2), 2)])  # shard 2: nobody here leads it
    assert len(sink.sent) == 2


class Sink:
    def __init__(self) -> None:
        self.stored: list[LifecycleEvent] = []

    async def store(self, event: LifecycleEvent) -> None:
        self.stored.append(event)


def lifecycle(session: str) -> LifecycleEvent:
    return LifecycleEvent(f"{session}:1:0", "connect", session, None, "n", "c", 1, 0)


async def test_the_relay_stores_and_resends_only_the_shards_it_leads() -> None:
    relay = EventRelay(
        Sink(),
        LOG,
        registry=CollectorRegistry(),
        resend_window=30.0,
        clock=ManualClock(),
        shards=SHARDS,
    )
    s0, s1, s2 = session_in(0), session_in(1), session_in(2)
    relay.record([lifecycle(s0), lifecycle(s1), lifecycle(s2)])
    assert relay.pending == 0  # nothing led here yet
    assert relay.activate(1) == 1
    assert relay.activate(2) == 1
    assert relay.pending == 2
    relay.deactivate(1)  # handed over: its queued event is the next leader's to store
    assert relay.pending == 1
    assert relay.active


def sharded(store: MemoryStore, name: str, roster: ReplicaRoster, clock: ManualClock) -> Leadership:
    leases = [
        LeaderLease(
            store,
            LOG,
            holder=name,
            ttl=TTL,
            key=f"leader.{k}",
            clock=clock,
            eligible=functools.partial(roster.prefers_me, k),
        )
        for k in range(SHARDS)
    ]
    return leadership(store, leases, roster=roster, clock=clock)


async def holder(store: MemoryStore, shard: int) -> str | None:
    current = await store.get(f"leader.{shard}")
    value = LeaseValue.decode(current.value) if current is not None else None
    return value.holder if value is not None else None


async def test_a_replica_that_joins_gets_its_shards_handed_over_at_once() -> None:
    store, clock = MemoryStore(), ManualClock()
    roster_a = ReplicaRoster("a", timeout=TTL, clock=clock)
    roster_b = ReplicaRoster("b", timeout=TTL, clock=clock)
    a = sharded(store, "a", roster_a, clock)
    b = sharded(store, "b", roster_b, clock)
    await a.lease_tick()
    assert a.led == [0, 1, 2, 3]  # alone, it leads every shard
    roster_a.heard("b")  # b starts: each hears the other's beat
    roster_b.heard("a")
    await b.lease_tick()
    assert b.led == []  # a still renews them
    await a.lease_tick()  # a hands b's shards over, vacant
    assert a.led == [0, 2]
    await b.lease_tick()  # vacant and its own: taken without waiting a ttl
    assert b.led == [1, 3]
    assert [await holder(store, k) for k in range(SHARDS)] == ["a", "b", "a", "b"]
    for _ in range(6):  # steady: no lease moves again
        clock.advance(TTL / 3)
        roster_a.heard("b")
        roster_b.heard("a")
        await a.lease_tick()
        await b.lease_tick()
        assert (a.led, b.led) == ([0, 2], [1, 3])


def test_shards_have_a_default_a_setting_and_a_bound() -> None:
    assert PresenceSettings().presence_shards == 1
    parsed = build_parser(PresenceSettings).parse_args(["--presence-shards", "4"])
    assert parsed.presence_shards == "4"
    PresenceSettings(presence_shards=names.PRESENCE_MAX_SHARDS).validate()
    for bad in (0, names.PRESENCE_MAX_SHARDS + 1):
        with pytest.raises(SettingsError, match="presence_shards"):
            PresenceSettings(presence_shards=bad).validate()
    # One shard keeps the lease key of a presence that never had shards.
    assert names.presence_leader_key(0, 1) == names.KV_PRESENCE_LEADER
    assert names.presence_leader_key(3, 4) == "leader.3"


def test_status_shows_each_shard_s_holder() -> None:
    sharded = {"presence": {"leader": None, "shards": ["p-1", None]}}
    assert "presence shards: 0: p-1, 1: none" in render(sharded)
    assert "presence leader: p-1" in render({"presence": {"leader": "p-1"}})
