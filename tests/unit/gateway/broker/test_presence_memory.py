"""The memory presence keeps the ``PresenceCalls`` contract (NATS: tests/integration)."""

from __future__ import annotations

import pytest

from haws.gateway.broker.memory_presence import MemoryPresence
from tests.unit.gateway.broker.presence_contract import PresenceContract


class TestMemoryPresence(PresenceContract):
    @pytest.fixture
    def calls(self) -> MemoryPresence:
        return MemoryPresence()

    @pytest.fixture
    def absent_calls(self) -> MemoryPresence:
        return MemoryPresence(absent=True)
