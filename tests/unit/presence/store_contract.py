"""The ``VersionedStore`` contract, run against the memory store (unit) and KV (integration).

A subclass provides a ``store`` fixture and a ``prefix`` unique to the test.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from haws.presence.store import StoreConflict, Update, VersionedStore


class StoreContract:
    @pytest.fixture
    def prefix(self) -> str:
        return f"own{uuid.uuid4().hex[:8]}."

    async def test_create_get_update_delete(self, store: VersionedStore, prefix: str) -> None:
        key = prefix + "s"
        assert await store.get(key) is None
        first = await store.create(key, b"one")
        got = await store.get(key)
        assert got is not None
        assert (got.value, got.revision) == (b"one", first)
        second = await store.update(key, b"two", first)
        assert second > first
        await store.delete(key, second)
        assert await store.get(key) is None

    async def test_writes_are_conditional(self, store: VersionedStore, prefix: str) -> None:
        key = prefix + "s"
        first = await store.create(key, b"one")
        with pytest.raises(StoreConflict):
            await store.create(key, b"again")
        second = await store.update(key, b"two", first)
        with pytest.raises(StoreConflict):
            await store.update(key, b"stale", first)
        with pytest.raises(StoreConflict):
            await store.delete(key, first)
        await store.delete(key, second)
        # A deleted key can be created again.
        assert await store.create(key, b"three") > second

    async def test_watch_loads_then_follows(self, store: VersionedStore, prefix: str) -> None:
        a, b = prefix + "a", prefix + "b"
        rev_a = await store.create(a, b"1")
        rev_b = await store.create(b, b"1")
        await store.delete(b, rev_b)
        async with store.watch(prefix) as updates:
            initial: list[Update] = []
            async with asyncio.timeout(5):
                while (update := await anext(updates)) is not None:
                    initial.append(update)
            live = {u.key: u for u in initial if u.value is not None}
            assert list(live) == [a]
            assert live[a].revision == rev_a
            rev_a2 = await store.update(a, b"2", rev_a)
            await store.create(prefix + "c", b"1")
            await store.delete(a, rev_a2)
            async with asyncio.timeout(5):
                seen = [await anext(updates) for _ in range(3)]
        assert [(u.key, u.value) for u in seen if u is not None] == [
            (a, b"2"),
            (prefix + "c", b"1"),
            (a, None),
        ]

    async def test_forget_keeps_newer_values(self, store: VersionedStore, prefix: str) -> None:
        key = prefix + "s"
        first = await store.create(key, b"1")
        await store.delete(key, first)
        again = await store.create(key, b"2")
        await store.forget(key, again - 1)  # the delete marker's revision
        got = await store.get(key)
        assert got is not None
        assert got.value == b"2"
