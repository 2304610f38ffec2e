"""The memory broker keeps the broker contract (JetStream: tests/integration)."""

from __future__ import annotations

import pytest

from haws.common import presence_protocol as pp
from haws.gateway.broker.memory import MemoryBroker
from tests.unit.gateway.broker.broker_contract import BrokerContract, BrokerUnderTest


class TestMemoryBroker(BrokerContract):
    @pytest.fixture
    async def broker(self) -> BrokerUnderTest:
        memory = MemoryBroker()

        async def drop(topic: str, through: int) -> None:
            memory.drop(topic, through)

        async def announce(change: pp.Change) -> None:
            memory.change(change)

        return BrokerUnderTest(memory, memory, memory, drop, announce)


async def test_a_lost_live_message_is_still_stored() -> None:
    memory = MemoryBroker()
    got: list[int] = []

    async def on_message(message: object) -> None:
        got.append(getattr(message, "seq", 0))

    feed = await memory.live("t", on_message)
    memory.lose_live("t")
    lost, _ = await memory.publish("t", 1, mid=None, sender=None, request_id=1)
    kept, _ = await memory.publish("t", 2, mid=None, sender=None, request_id=2)
    await memory.settled()
    await feed.stop()
    assert got == [kept]
    assert [m.seq for m in (await memory.read("t", 0)).messages] == [lost, kept]
