"""The JetStream KV store keeps the same ``VersionedStore`` contract as the memory one."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest

from haws.common.settings import NatsSettings
from haws.common.streams import ensure_kv
from haws.presence.ack_inbox import AckInbox
from haws.presence.store_kv import KvStore
from tests.unit.presence.store_contract import StoreContract


class TestKvStore(StoreContract):
    @pytest.fixture
    async def store(self, shared_nats: Any) -> AsyncIterator[KvStore]:
        nc = await nats.connect(shared_nats.url)
        try:
            js = nc.jetstream(timeout=5)
            bucket = f"PRESENCE_TEST_{uuid.uuid4().hex[:8]}"
            kv = await ensure_kv(js, bucket, NatsSettings())
            acks = AckInbox(nc)
            await acks.start()
            yield KvStore(js, kv, bucket, acks, timeout=5)
            await acks.stop()
            await js.delete_key_value(bucket)
        finally:
            await nc.close()
