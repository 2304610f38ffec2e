"""The feed: a silent first load, live changes after it, and a resync that finds the gap."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from haws.common import names
from haws.common.presence_protocol import OwnerRecord, encode
from haws.presence.emitter import ChangeEmitter
from haws.presence.feed import IndexFeed
from haws.presence.index import PresenceIndex
from haws.presence.metrics import PresenceMetrics
from haws.presence.store_memory import MemoryStore
from haws.presence.tombstones import Tombstones
from tests.support.waiting import eventually
from tests.unit.presence.fakes import LOG, ListSink


def owner(*topics: str) -> bytes:
    return encode(OwnerRecord("g1", "c1", 1, True, 1.0, topics=list(topics)))


@pytest.fixture
async def running() -> AsyncIterator[tuple[MemoryStore, IndexFeed, PresenceIndex, ListSink]]:
    store, index, sink = MemoryStore(), PresenceIndex(), ListSink()
    emitter = ChangeEmitter(sink, PresenceMetrics(), LOG, log_size=100)
    await store.create(names.presence_owner_key("old"), owner("t"))
    feed = IndexFeed(store, index, emitter, Tombstones(), LOG, retry_delay=0.01)
    await emitter.activate(after=0)
    feed.start()
    try:
        yield store, feed, index, sink
    finally:
        await feed.stop()


async def test_first_load_is_silent_and_later_updates_are_not(
    running: tuple[MemoryStore, IndexFeed, PresenceIndex, ListSink],
) -> None:
    store, feed, index, sink = running
    async with asyncio.timeout(5):
        await feed.loaded.wait()
    assert index.get("old") is not None
    assert sink.sent == []
    await store.create(names.presence_owner_key("new"), owner("t"))
    await eventually(lambda: len(sink.sent) == 1, timeout=5)
    assert [(c.kind, c.session) for c in sink.changes()] == [("join", "new")]


async def test_resync_emits_only_what_was_missed(
    running: tuple[MemoryStore, IndexFeed, PresenceIndex, ListSink],
) -> None:
    _, feed, index, sink = running
    async with asyncio.timeout(5):
        await feed.loaded.wait()
    # Pretend this replica missed a delete: the index holds a session the store lacks.
    index.apply("ghost", OwnerRecord("g1", "c1", 1, True, 1.0, topics=["t"]), 0)
    feed.resync()
    await eventually(lambda: index.get("ghost") is None, timeout=5)
    assert [(c.kind, c.session) for c in sink.changes()] == [("leave", "ghost")]
