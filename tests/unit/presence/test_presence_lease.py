"""The leader lease on an in-memory store, with a manual monotonic clock."""

from __future__ import annotations

from haws.presence.lease import LeaderLease, LeaseValue
from haws.presence.store import StoreUnavailable, Versioned
from haws.presence.store_memory import MemoryStore
from tests.unit.presence.fakes import LOG, ManualClock

TTL = 3.0


def lease(store: MemoryStore, holder: str, clock: ManualClock) -> LeaderLease:
    return LeaderLease(store, LOG, holder=holder, ttl=TTL, key="leader", clock=clock)


async def holder_of(store: MemoryStore) -> str | None:
    current = await store.get("leader")
    value = LeaseValue.decode(current.value) if current is not None else None
    return value.holder if value is not None else None


async def test_first_replica_creates_the_lease_and_renews_it() -> None:
    store, clock = MemoryStore(), ManualClock()
    a, b = lease(store, "a", clock), lease(store, "b", clock)
    view = await a.tick(emitted=0)
    assert view.leader
    assert view.term == 1
    assert not (await b.tick(emitted=0)).leader
    for _ in range(10):  # renewed every ttl/3: b never sees it quiet
        clock.advance(TTL / 3)
        assert (await a.tick(emitted=0)).leader
        assert not (await b.tick(emitted=0)).leader
    assert await holder_of(store) == "a"


async def test_follower_takes_over_after_ttl_of_one_revision_and_learns_emitted() -> None:
    store, clock = MemoryStore(), ManualClock()
    a, b = lease(store, "a", clock), lease(store, "b", clock)
    await a.tick(emitted=0)
    clock.advance(1.0)
    await a.tick(emitted=42)  # a's last renewal, then a dies
    assert not (await b.tick(emitted=0)).leader  # b first sees this revision now
    clock.advance(TTL - 0.01)
    assert not (await b.tick(emitted=0)).leader
    clock.advance(0.02)
    view = await b.tick(emitted=0)
    assert view.leader
    assert view.emitted == 42
    assert await holder_of(store) == "b"


async def test_holder_validity_ends_before_a_follower_may_take_over() -> None:
    store, clock = MemoryStore(), ManualClock()
    a, b = lease(store, "a", clock), lease(store, "b", clock)
    await a.tick(emitted=0)
    await b.tick(emitted=0)  # b sees the revision at the same instant, at the earliest
    clock.advance(TTL)
    assert not a.is_leader  # a stops acting exactly when b may start
    assert (await b.tick(emitted=0)).leader


async def test_paused_leader_loses_on_conflict_and_follows() -> None:
    store, clock = MemoryStore(), ManualClock()
    a, b = lease(store, "a", clock), lease(store, "b", clock)
    await a.tick(emitted=0)
    await b.tick(emitted=0)
    clock.advance(TTL + 0.1)  # a is paused; b takes over
    assert (await b.tick(emitted=0)).leader
    view = await a.tick(emitted=0)  # a wakes up: its renewal conflicts
    assert not view.leader
    assert view.holder == "b"
    assert not a.is_leader


async def test_lapsed_leader_nobody_replaced_renews_into_a_new_term() -> None:
    store, clock = MemoryStore(), ManualClock()
    a = lease(store, "a", clock)
    await a.tick(emitted=5)
    clock.advance(TTL + 1)
    assert not a.is_leader
    view = await a.tick(emitted=9)
    assert view.leader
    assert view.term == 2
    assert view.emitted == 9


class FlakyStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def update(self, key: str, value: bytes, revision: int) -> int:
        if self.down:
            raise StoreUnavailable("down")
        return await super().update(key, value, revision)

    async def get(self, key: str) -> Versioned | None:
        if self.down:
            raise StoreUnavailable("down")
        return await super().get(key)


async def test_unrenewable_lease_steps_down_after_ttl() -> None:
    store, clock = FlakyStore(), ManualClock()
    a = lease(store, "a", clock)
    await a.tick(emitted=0)
    store.down = True
    clock.advance(TTL / 3)
    assert (await a.tick(emitted=0)).leader  # still within its term
    clock.advance(TTL)
    assert not (await a.tick(emitted=0)).leader


async def test_release_leaves_it_vacant_for_an_immediate_takeover() -> None:
    store, clock = MemoryStore(), ManualClock()
    a, b = lease(store, "a", clock), lease(store, "b", clock)
    await a.tick(emitted=0)
    await b.tick(emitted=0)
    await a.release(emitted=17)
    view = await b.tick(emitted=0)
    assert view.leader
    assert view.emitted == 17


async def test_restart_with_the_same_name_takes_its_lease_back_at_once() -> None:
    store, clock = MemoryStore(), ManualClock()
    first = lease(store, "a", clock)
    await first.tick(emitted=0)  # creates it
    await first.tick(emitted=3)  # renews it with what it published, then dies
    again = lease(store, "a", clock)  # a new life of replica "a"
    view = await again.tick(emitted=0)
    assert view.leader
    assert view.emitted == 3
