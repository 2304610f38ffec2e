"""The memory presence keeps the ``PresenceCalls`` contract (NATS: tests/integration)."""

from __future__ import annotations

import pytest

from haws.gateway.broker.memory_presence import MemoryPresence
from tests.support.gated_presence import GatedPresence
from tests.unit.gateway.broker.presence_contract import PresenceContract


class TestMemoryPresence(PresenceContract):
    @pytest.fixture
    def calls(self) -> MemoryPresence:
        return MemoryPresence()

    @pytest.fixture
    def absent_calls(self) -> MemoryPresence:
        return MemoryPresence(absent=True)


class TestGatedPresence(PresenceContract):
    """The gated memory presence (tests/support) keeps the contract with its gate open."""

    @pytest.fixture
    def calls(self) -> GatedPresence:
        gated = GatedPresence(hold_before={"n1", "n2"}, hold_after={"n1", "n2"})
        gated.gate.set()
        return gated

    @pytest.fixture
    def absent_calls(self) -> GatedPresence:
        gated = GatedPresence()
        gated.absent = True
        return gated
