"""The JetStream KV store keeps the same ``VersionedStore`` contract as the memory one."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
from nats.js import JetStreamContext

from haws.common.ack_inbox import AckInbox
from haws.common.settings import NatsSettings
from haws.common.streams import ensure_kv
from haws.presence.store import StoreUnavailable
from haws.presence.store_kv import KvStore
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
        yield KvStore(js, kv, bucket, acks, timeout=timeout), js, acks, bucket
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
