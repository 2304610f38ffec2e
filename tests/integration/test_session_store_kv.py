"""``KvSessionStore`` on a real JetStream KV bucket: the memory store's contract, and
what a caller sees when the broker does not answer, restarts, or the inbox stopped."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import nats.errors
import nats.js.errors
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.kv import KeyValue

from haws.common.ack_inbox import AckInbox
from haws.common.session_record import SessionRecord
from haws.common.settings import NatsSettings
from haws.common.streams import ensure_kv
from haws.gateway.sessions.store import KvSessionStore
from tests.support.reconnecting_client import reconnecting_client
from tests.support.waiting import eventually
from tests.unit.gateway.sessions.session_store_contract import (
    SessionStoreContract,
    new_session,
    record,
)

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def kv_store(
    nc: NatsClient, *, timeout: float
) -> AsyncIterator[tuple[KvSessionStore, AckInbox, KeyValue]]:
    """A store on a bucket of its own, with its started inbox; both removed afterwards."""
    js = nc.jetstream(timeout=5)
    bucket = f"SESSIONS_TEST_{uuid.uuid4().hex[:8]}"
    kv = await ensure_kv(js, bucket, NatsSettings(), ttl=60)
    acks = AckInbox(nc)
    await acks.start()
    try:
        yield KvSessionStore(acks, bucket=bucket, timeout=timeout), acks, kv
    finally:
        await acks.stop()
        if nc.is_connected:
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await js.delete_key_value(bucket)


def stopped(pid: int | None) -> bool:
    """The process took its SIGSTOP (state ``T``): ``kill`` returns before it does."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2] == "T"


class TestKvSessionStore(SessionStoreContract):
    @pytest.fixture
    async def store(self, shared_nats: Any) -> AsyncIterator[KvSessionStore]:
        nc = await nats.connect(shared_nats.url)
        try:
            async with kv_store(nc, timeout=5) as (store, _, _):
                yield store
        finally:
            await nc.close()


async def test_a_put_is_a_kv_entry_nats_py_reads(shared_nats: Any) -> None:
    """The publish to ``$KV.<bucket>.<key>`` is a put like ``KeyValue.put``'s: another
    reader (a gateway on nats-py's KV) sees the record, and the revision moves."""
    nc = await nats.connect(shared_nats.url)
    try:
        async with kv_store(nc, timeout=5) as (store, _, kv):
            session = new_session()
            await store.put(session, record(1))
            await store.put(session, record(2))
            entry = await kv.get(session)
            assert entry.value is not None
            assert SessionRecord.decode(entry.value) == record(2)
            assert entry.revision == 2
            await store.delete(session)
            with pytest.raises(nats.js.errors.KeyNotFoundError):
                await kv.get(session)
            # And the other way: what nats-py's KV wrote, the store reads.
            await kv.put(session, record(3).encode())
            assert await store.get(session) == record(3)
            await kv.purge(session)
            assert await store.get(session) is None
    finally:
        await nc.close()


async def test_a_read_of_a_bucket_gone_fails_as_kv_get_did(shared_nats: Any) -> None:
    nc = await nats.connect(shared_nats.url)
    try:
        async with kv_store(nc, timeout=5) as (store, _, kv):
            await store.put("s-1", record(1))
            await nc.jetstream().delete_key_value((await kv.status()).bucket)
            with pytest.raises(nats.js.errors.NotFoundError):
                await kv.get("s-1")  # nats-py's error, for the comparison
            with pytest.raises(nats.js.errors.NotFoundError):
                await store.get("s-1")
    finally:
        await nc.close()


async def test_a_bad_key_is_refused_before_anything_is_sent(shared_nats: Any) -> None:
    nc = await nats.connect(shared_nats.url)
    try:
        async with kv_store(nc, timeout=5) as (store, _, _):
            sent = nc.stats["out_msgs"]
            for bad in ("", "a.>", "a b", "a.*", ".a", "a."):
                with pytest.raises(nats.js.errors.InvalidKeyError):
                    await store.put(bad, record(1))
                with pytest.raises(nats.js.errors.InvalidKeyError):
                    await store.get(bad)
            assert nc.stats["out_msgs"] == sent
    finally:
        await nc.close()


async def test_a_put_whose_ack_never_comes_times_out_as_before(nats_server: Any) -> None:
    """The server stopped (SIGSTOP): the write waits its timeout and raises a
    ``TimeoutError``, the type ``KeyValue.put`` under ``asyncio.timeout`` raised."""
    nc = await nats.connect(nats_server.url)
    try:
        async with kv_store(nc, timeout=0.5) as (store, _, _):
            session = new_session()
            await store.put(session, record(1))
            nats_server.pause()
            try:
                await eventually(lambda: stopped(nats_server.pid), message="SIGSTOP taken")
                began = time.monotonic()
                with pytest.raises(TimeoutError) as late:
                    await store.put(session, record(2))
                assert isinstance(late.value, nats.errors.TimeoutError)
                assert 0.4 < time.monotonic() - began < 3
            finally:
                nats_server.resume()
            # The broker back, the next write goes through (the late ack is dropped).
            await store.put(session, record(3))
            assert await store.get(session) == record(3)
    finally:
        await nc.close()


async def test_puts_keep_working_across_a_nats_restart(nats_server: Any) -> None:
    nc, reconnected = await reconnecting_client(nats_server.url)
    try:
        async with kv_store(nc, timeout=2) as (store, _, _):
            session = new_session()
            await store.put(session, record(1))
            await asyncio.to_thread(nats_server.kill)
            await asyncio.to_thread(nats_server.start)
            await asyncio.wait_for(reconnected.wait(), 20)

            async def written() -> bool:
                try:
                    await store.put(session, record(2))
                except (nats.errors.Error, nats.js.errors.Error):
                    return False  # the bucket's stream may still be recovering
                return True

            await eventually(written, timeout=20, message="a put acked after the restart")
            assert await store.get(session) == record(2)
    finally:
        await nc.close()


async def test_a_put_after_the_inbox_stopped_fails_at_once(shared_nats: Any) -> None:
    nc = await nats.connect(shared_nats.url)
    try:
        async with kv_store(nc, timeout=30) as (store, acks, _):
            await acks.stop()
            began = time.monotonic()
            with pytest.raises(nats.errors.ConnectionClosedError):
                await store.put(new_session(), record(1))
            assert time.monotonic() - began < 1
    finally:
        await nc.close()
