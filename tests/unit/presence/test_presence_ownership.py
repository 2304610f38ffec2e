"""The compare-and-set loop: conflicts retried, verdicts on a stale index re-checked."""

from __future__ import annotations

import pytest

from haws.common import names
from haws.common.presence_protocol import Claim, Event, OwnerRecord, decode, encode
from haws.presence.index import PresenceIndex
from haws.presence.metrics import PresenceMetrics
from haws.presence.ownership import Ownership
from haws.presence.store import StoreConflict
from haws.presence.store_memory import MemoryStore
from haws.presence.transitions import Grace, StaleEvent
from tests.unit.presence.fakes import LOG, ManualClock

KEY = names.presence_owner_key("s")


def ownership(store: MemoryStore, index: PresenceIndex, clock: ManualClock) -> Ownership:
    return Ownership(
        store, index, PresenceMetrics(), LOG, grace=Grace.uniform(5.0), attempts=5, clock=clock
    )


async def stored(store: MemoryStore) -> OwnerRecord | None:
    got = await store.get(KEY)
    return decode(OwnerRecord, got.value) if got is not None else None


async def test_claims_count_epochs_and_name_the_previous_owner() -> None:
    store, index, clock = MemoryStore(), PresenceIndex(), ManualClock()
    own = ownership(store, index, clock)
    first = await own.claim("s", Claim("s", "g1", "c1", topics=["a"]))
    assert (first.new.epoch, first.old, first.takeover) == (1, None, None)
    second = await own.claim("s", Claim("s", "g2", "c2"))
    assert second.new.epoch == 2
    assert second.new.topics == ["a"]
    assert second.old is not None
    assert second.old.node == "g1"
    assert second.takeover is not None
    assert (second.takeover.conn, second.takeover.epoch) == (
        "c1",
        2,
    )


async def test_stale_index_copy_costs_a_conflict_not_a_lost_update() -> None:
    store, index, clock = MemoryStore(), PresenceIndex(), ManualClock()
    own = ownership(store, index, clock)
    await own.claim("s", Claim("s", "g1", "c1"))
    current = await store.get(KEY)
    assert current is not None
    index.apply("s", decode(OwnerRecord, current.value), current.revision)
    # Another replica claims meanwhile; this index has not seen it.
    await store.update(
        KEY,
        encode(OwnerRecord("g2", "c2", 2, True, clock(), topics=["x"])),
        current.revision,
    )
    await own.event(Event("sub", "s", "g2", "c2", 2, "y"))
    record = await stored(store)
    assert record is not None
    assert record.topics == ["x", "y"]


async def test_stale_verdict_on_a_lagging_index_is_checked_on_the_store() -> None:
    store, index, clock = MemoryStore(), PresenceIndex(), ManualClock()
    own = ownership(store, index, clock)
    index.apply("s", OwnerRecord("g1", "c1", 1, True, clock()), 1)  # old view: epoch 1
    await store.create(KEY, encode(OwnerRecord("g2", "c2", 2, True, clock())))
    # Epoch 2 is current in the store, so this is not stale.
    outcome = await own.event(Event("sub", "s", "g2", "c2", 2, "t"))
    assert outcome.written
    with pytest.raises(StaleEvent):
        await own.event(Event("sub", "s", "g1", "c1", 1, "t"))


async def test_no_change_verdict_on_a_lagging_index_is_checked_too() -> None:
    store, index, clock = MemoryStore(), PresenceIndex(), ManualClock()
    own = ownership(store, index, clock)
    rev = await store.create(KEY, encode(OwnerRecord("g1", "c1", 1, True, clock(), topics=[])))
    index.apply("s", OwnerRecord("g1", "c1", 1, True, clock(), topics=["t"]), rev)
    await own.event(Event("sub", "s", "g1", "c1", 1, "t"))  # the index thinks it is there
    record = await stored(store)
    assert record is not None
    assert record.topics == ["t"]


async def test_expire_only_past_the_grace_and_reconnect_wins() -> None:
    store, index, clock = MemoryStore(), PresenceIndex(), ManualClock()
    own = ownership(store, index, clock)
    await own.claim("s", Claim("s", "g1", "c1"))
    await own.event(Event("close", "s", "g1", "c1", 1))
    clock.advance(4.0)
    assert not (await own.expire("s")).written
    clock.advance(2.0)
    assert (await own.expire("s")).written
    assert await stored(store) is None


async def test_mark_offline_spares_a_session_claimed_elsewhere() -> None:
    store, index, clock = MemoryStore(), PresenceIndex(), ManualClock()
    own = ownership(store, index, clock)
    await own.claim("s", Claim("s", "g1", "c1"))
    await own.claim("s", Claim("s", "g2", "c2"))
    assert not (await own.mark_offline("s", "g1")).written
    assert (await own.mark_offline("s", "g2")).written
    assert (await own.revive("s", "g2")).written
    record = await stored(store)
    assert record is not None
    assert record.online


class AlwaysConflicting(MemoryStore):
    async def update(self, key: str, value: bytes, revision: int) -> int:
        raise StoreConflict("busy")


async def test_contention_is_bounded() -> None:
    store, index, clock = AlwaysConflicting(), PresenceIndex(), ManualClock()
    own = ownership(store, index, clock)
    await own.claim("s", Claim("s", "g1", "c1"))  # a create, which succeeds
    with pytest.raises(StoreConflict, match="5 attempts"):
        await own.claim("s", Claim("s", "g2", "c2"))
