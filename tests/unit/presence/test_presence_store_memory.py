"""The memory store keeps the ``VersionedStore`` contract."""

from __future__ import annotations

import pytest

from haws.presence.store_memory import MemoryStore
from tests.unit.presence.store_contract import StoreContract


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def store(self) -> MemoryStore:
        return MemoryStore()
