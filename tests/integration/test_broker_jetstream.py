"""JetStream on a real nats-server keeps the same broker contract as the memory broker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest

from haws.common import names
from haws.common import presence_protocol as pp
from haws.common.ack_inbox import AckInbox
from haws.common.logs import get_logger
from haws.common.settings import NatsSettings
from haws.common.stream_reader import StreamReader
from haws.common.streams import ensure_stream
from haws.gateway.broker.jetstream_store import JetStreamStore
from haws.gateway.broker.nats_feed import NatsLiveFeed
from tests.unit.gateway.broker.broker_contract import BrokerContract, BrokerUnderTest

pytestmark = pytest.mark.integration


class TestJetStreamBroker(BrokerContract):
    @pytest.fixture
    async def broker(self, shared_nats: Any) -> AsyncIterator[BrokerUnderTest]:
        nc = await nats.connect(shared_nats.url)
        reader = StreamReader(nc, timeout=5)
        acks = AckInbox(nc)
        try:
            js = nc.jetstream(timeout=5)
            await ensure_stream(js, NatsSettings())
            await reader.start()
            await acks.start()

            async def drop(topic: str, through: int) -> None:
                await js.purge_stream(
                    names.STREAM, subject=names.topic_subject(topic), seq=through + 1
                )

            async def announce(change: pp.Change) -> None:
                await nc.publish(names.presence_changes_subject(change.topic), pp.encode(change))

            yield BrokerUnderTest(
                JetStreamStore(nc, acks, timeout=5),
                NatsLiveFeed(nc, get_logger("test"), timeout=5),
                reader,
                drop,
                announce,
            )
        finally:
            await acks.stop()
            await reader.stop()
            await nc.close()
