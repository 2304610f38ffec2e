"""The JetStream KV store keeps the same ``VersionedStore`` contract as the memory one."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from haws.common import names
from haws.common.ack_inbox import AckInbox
from haws.common.presence_protocol import OwnerRecord, encode
from haws.common.settings import NatsSettings
from haws.common.streams import ensure_kv
from haws.presence.emitter import ChangeEmitter
from haws.presence.feed import IndexFeed
from haws.presence.index import PresenceIndex
from haws.presence.kv_watch import KvWatch, reply_fields
from haws.presence.metrics import PresenceMetrics
from haws.presence.store import StoreConflict, StoreUnavailable, Update, Updates
from haws.presence.store_kv import KvStore
from haws.presence.tombstones import Tombstones
from tests.support.waiting import eventually
from tests.unit.presence.fakes import LOG, ListSink
from tests.unit.presence.store_contract import StoreContract


@contextlib.asynccontextmanager
async def fresh_store(
    nats_url: str, *, timeout: float
) -> AsyncIterator[tuple[KvStore, JetStreamContext, AckInbox, str]]:
    """A store on a bucket of its own (named last), with its started ack inbox."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream(timeout=5)
        bucket = f"PRESENCE_TEST_{uuid.uuid4().hex[:8]}"
        kv = await ensure_kv(js, bucket, NatsSettings())
        acks = AckInbox(nc)
        await acks.start()
        yield KvStore(js, kv, bucket, acks, nc=nc, timeout=timeout), js, acks, bucket
    finally:
        await nc.close()


class TestKvStore(StoreContract):
    @pytest.fixture
    async def store(self, shared_nats: Any) -> AsyncIterator[KvStore]:
        async with fresh_store(shared_nats.url, timeout=5) as (store, js, acks, bucket):
            yield store
            await acks.stop()
            await js.delete_key_value(bucket)


async def test_a_write_nobody_stores_fails_at_once_as_unavailable(shared_nats: Any) -> None:
    """No stream behind the subject (the bucket is gone): the server's no-responders
    status comes back on the ack inbox, so the write fails now, not after a timeout."""
    async with fresh_store(shared_nats.url, timeout=30) as (store, js, acks, bucket):
        revision = await store.create("own.s", b"one")
        await js.delete_key_value(bucket)
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await store.update("own.s", b"two", revision)
        assert time.monotonic() - started < 5  # far below the 30 s timeout
        await acks.stop()
        with pytest.raises(StoreUnavailable):  # stopped: refused, never left hanging
            await store.update("own.s", b"three", revision)


@contextlib.asynccontextmanager
async def bucket_of_own(
    nats_url: str,
) -> AsyncIterator[tuple[NatsClient, JetStreamContext, KeyValue, AckInbox, str]]:
    """A bucket of this test's own on a connection of its own, removed afterwards."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream(timeout=5)
    bucket = f"PRESENCE_TEST_{uuid.uuid4().hex[:8]}"
    acks = AckInbox(nc)
    try:
        kv = await ensure_kv(js, bucket, NatsSettings())
        await acks.start()
        yield nc, js, kv, acks, bucket
    finally:
        await acks.stop()
        with contextlib.suppress(Exception):
            await js.delete_key_value(bucket)
        await nc.close()


def watch_of(
    nc: NatsClient, js: JetStreamContext, bucket: str, *, heartbeat: float = 5.0
) -> KvWatch:
    prefix = f"$KV.{bucket}."
    return KvWatch(
        nc, js, f"KV_{bucket}", prefix + "own.>", len(prefix), timeout=5, heartbeat=heartbeat
    )


async def take(updates: Updates, count: int, timeout: float = 10) -> list[Update | None]:
    async with asyncio.timeout(timeout):
        return [await anext(updates) for _ in range(count)]


def dropping(watch: KvWatch, deliveries: set[int]) -> list[int]:
    """Make ``watch`` lose the data messages of these consumer sequences (first
    consumer only), as a slow client would; the dropped ones are returned."""
    dropped: list[int] = []
    original = watch._on_raw

    def lossy(subject: bytes, reply: bytes, block: bytes | None, data: bytes) -> None:
        fields = reply_fields(reply)
        if fields is not None and watch.resets == 0 and fields[1] in deliveries:
            dropped.append(fields[1])
            return
        original(subject, reply, block, data)

    watch._on_raw = lossy  # type: ignore[method-assign]  # the tap routes this attribute
    return dropped


async def test_an_initial_load_of_many_records_ends_with_one_marker(shared_nats: Any) -> None:
    """2,000 records of 1 KiB each: past the server's flow-control window, so the
    load only completes if flow control is answered; the marker comes right after
    the last record, with the revisions the writes returned."""
    async with bucket_of_own(shared_nats.url) as (nc, js, kv, acks, bucket):
        store = KvStore(js, kv, bucket, acks, nc=nc, timeout=5)
        value = b"x" * 1024
        revisions = {}
        for i in range(2000):
            revisions[f"own.s{i}"] = await store.create(f"own.s{i}", value)
        watch = watch_of(nc, js, bucket)
        await watch.start()
        try:
            updates = watch.updates()
            initial = await take(updates, 2001)
            assert watch.flow_controls > 0
            assert watch.resets == 0
            assert initial[-1] is None
            loaded = [u for u in initial[:-1] if u is not None]
            assert {u.key: u.revision for u in loaded} == revisions
            assert [u.revision for u in loaded] == sorted(revisions.values())
            assert all(u.value == value for u in loaded)
            live = await store.create("own.after", b"1")
            (update,) = await take(updates, 1)
        finally:
            await watch.stop()
        assert update is not None
        assert (update.key, update.value, update.revision) == ("own.after", b"1", live)


async def test_an_empty_bucket_marks_the_end_of_its_load_at_once(shared_nats: Any) -> None:
    async with bucket_of_own(shared_nats.url) as (nc, js, kv, acks, bucket):
        store = KvStore(js, kv, bucket, acks, nc=nc, timeout=5)
        async with store.watch("own.") as updates:
            assert await take(updates, 1) == [None]
            revision = await store.create("own.s", b"1")
            (update,) = await take(updates, 1)
        assert update is not None
        assert (update.key, update.revision) == ("own.s", revision)


async def test_deletes_and_purges_come_as_no_value_with_their_time(shared_nats: Any) -> None:
    async with bucket_of_own(shared_nats.url) as (nc, js, kv, acks, bucket):
        store = KvStore(js, kv, bucket, acks, nc=nc, timeout=5)
        deleted = await store.create("own.d", b"1")
        purged = await store.create("own.p", b"1")
        await store.create("own.kept", b"1")
        async with store.watch("own.") as updates:
            assert len(await take(updates, 4)) == 4  # three records, the marker
            started = time.time()
            await store.delete("own.d", deleted)
            await kv.purge("own.p")
            seen = await take(updates, 2)
        assert [(u.key, u.value) for u in seen if u is not None] == [
            ("own.d", None),
            ("own.p", None),
        ]
        for update in seen:
            assert update is not None
            assert update.revision > purged
            assert started - 2 < update.at < time.time() + 2


async def test_a_lost_delivery_starts_a_new_consumer_and_the_mirror_converges(
    shared_nats: Any,
) -> None:
    """Consumer sequence 3 never reaches the reader: the next delivery shows the gap,
    a new consumer starts after sequence 2, and every record arrives once, in order."""
    async with bucket_of_own(shared_nats.url) as (nc, js, kv, acks, bucket):
        store = KvStore(js, kv, bucket, acks, nc=nc, timeout=5)
        revisions = [await store.create(f"own.s{i}", b"1") for i in range(5)]
        watch = watch_of(nc, js, bucket)
        dropped = dropping(watch, {3})
        await watch.start()
        try:
            seen = await take(watch.updates(), 6)
        finally:
            await watch.stop()
        assert dropped == [3]
        assert watch.resets == 1
        assert seen[-1] is None
        assert [u.revision for u in seen[:-1] if u is not None] == revisions


async def test_a_heartbeat_shows_a_lost_last_delivery(shared_nats: Any) -> None:
    """The last delivery is lost and nothing follows it: the idle heartbeat names a
    later consumer sequence than the reader took, so a new consumer re-sends it."""
    async with bucket_of_own(shared_nats.url) as (nc, js, kv, acks, bucket):
        store = KvStore(js, kv, bucket, acks, nc=nc, timeout=5)
        first = await store.create("own.a", b"1")
        watch = watch_of(nc, js, bucket, heartbeat=0.5)
        dropped = dropping(watch, {2})
        await watch.start()
        try:
            updates = watch.updates()
            assert [u.revision if u else u for u in await take(updates, 2)] == [first, None]
            last = await store.create("own.b", b"1")
            (update,) = await take(updates, 1)
        finally:
            await watch.stop()
        assert dropped == [2]
        assert update is not None
        assert (update.key, update.revision) == ("own.b", last)
        assert watch.resets == 1


async def test_a_consumer_gone_quiet_is_replaced(shared_nats: Any) -> None:
    """The server drops the watch's consumer: no heartbeats come, and after two
    intervals a new consumer carries on from the last record taken, so a write
    made while no consumer existed still arrives."""
    async with bucket_of_own(shared_nats.url) as (nc, js, kv, acks, bucket):
        store = KvStore(js, kv, bucket, acks, nc=nc, timeout=5)
        await store.create("own.a", b"1")
        watch = watch_of(nc, js, bucket, heartbeat=0.5)
        await watch.start()
        try:
            updates = watch.updates()
            assert len(await take(updates, 2)) == 2
            for info in await js.consumers_info(f"KV_{bucket}"):
                await js.delete_consumer(f"KV_{bucket}", info.name)
            later = await store.create("own.b", b"1")  # no consumer delivers it now
            (update,) = await take(updates, 1)
        finally:
            await watch.stop()
        assert watch.resets == 1
        assert update is not None
        assert (update.key, update.revision) == ("own.b", later)
        consumers = await js.consumers_info(f"KV_{bucket}")
        assert consumers == []  # stopping the watch removed its consumer


async def test_without_the_raw_tap_the_watch_reads_the_same(
    shared_nats: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A nats-py without the private hook: the watch subscribes the ordinary way."""
    monkeypatch.setattr("haws.presence.kv_watch.tap_for", lambda nc: None)
    async with bucket_of_own(shared_nats.url) as (nc, js, kv, acks, bucket):
        store = KvStore(js, kv, bucket, acks, nc=nc, timeout=5)
        first = await store.create("own.a", b"1")
        async with store.watch("own.") as updates:
            initial = await take(updates, 2)
            await store.delete("own.a", first)
            (gone,) = await take(updates, 1)
        assert [(u.key, u.value) if u else u for u in initial] == [("own.a", b"1"), None]
        assert gone is not None
        assert (gone.key, gone.value) == ("own.a", None)


async def test_a_feed_resyncs_after_the_server_restarts(nats_server: Any) -> None:
    """nats-server restarts: the connection comes back, the feed watches again (as the
    replica does on reconnect), a record the index holds but the store lacks leaves,
    and writes after the restart reach the mirror."""
    feed: IndexFeed | None = None

    async def reconnected() -> None:
        if feed is not None:
            feed.resync()

    nc = await nats.connect(
        nats_server.url,
        reconnected_cb=reconnected,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.2,
    )
    try:
        js = nc.jetstream(timeout=5)
        bucket = f"PRESENCE_TEST_{uuid.uuid4().hex[:8]}"
        kv = await ensure_kv(js, bucket, NatsSettings())
        acks = AckInbox(nc)
        await acks.start()
        store = KvStore(js, kv, bucket, acks, nc=nc, timeout=5)
        record = OwnerRecord("g1", "c1", 1, True, 1.0, topics=["t"])
        await store.create(names.presence_owner_key("kept"), encode(record))
        index, sink = PresenceIndex(), ListSink()
        emitter = ChangeEmitter(sink, PresenceMetrics(), LOG, log_size=100)
        await emitter.activate(after=0)
        feed = IndexFeed(store, index, emitter, Tombstones(), LOG, retry_delay=0.1)
        feed.start()
        try:
            async with asyncio.timeout(10):
                await feed.loaded.wait()
            index.apply("ghost", record, 0)  # a delete this replica missed
            await asyncio.to_thread(nats_server.kill)
            await asyncio.to_thread(nats_server.start)
            await eventually(lambda: index.get("ghost") is None, timeout=20)
            await eventually(
                lambda: _created(store, names.presence_owner_key("new"), record), timeout=20
            )
            await eventually(lambda: index.get("new") is not None, timeout=20)
        finally:
            await feed.stop()
            await acks.stop()
        assert index.get("kept") is not None
        assert [(c.kind, c.session) for c in sink.changes()] == [
            ("leave", "ghost"),
            ("join", "new"),
        ]
    finally:
        await nc.close()


async def _created(store: KvStore, key: str, record: OwnerRecord) -> bool:
    """Create ``key`` once the store answers again; True once it is there."""
    try:
        await store.create(key, encode(record))
    except StoreConflict:
        return True
    except StoreUnavailable:
        return False
    return True
