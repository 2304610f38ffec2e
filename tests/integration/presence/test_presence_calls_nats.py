"""The gateway's ``NatsPresence`` against a real presence replica keeps the same
``PresenceCalls`` contract as the memory presence."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest

from haws.common.logs import get_logger
from haws.gateway.broker.nats_presence import NatsPresence
from haws.presence.node import PresenceNode
from tests.unit.gateway.broker.presence_contract import PresenceContract

pytestmark = pytest.mark.integration


class TestNatsPresence(PresenceContract):
    @pytest.fixture
    async def calls(self, shared_nats: Any, presence: PresenceNode) -> AsyncIterator[NatsPresence]:
        nc = await nats.connect(shared_nats.url)
        try:
            yield NatsPresence(nc, get_logger("test"), timeout=5)
        finally:
            await nc.close()

    @pytest.fixture
    async def absent_calls(self, nats_server: Any) -> AsyncIterator[NatsPresence]:
        # A server of its own: no presence replica listens there.
        nc = await nats.connect(nats_server.url)
        try:
            yield NatsPresence(nc, get_logger("test"), timeout=5)
        finally:
            await nc.close()
