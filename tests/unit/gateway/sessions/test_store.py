"""The in-memory session store keeps the contract the KV one is held to."""

from __future__ import annotations

import pytest

from haws.gateway.sessions.store import MemorySessionStore
from tests.unit.gateway.sessions.session_store_contract import SessionStoreContract


class TestMemorySessionStore(SessionStoreContract):
    @pytest.fixture
    def store(self) -> MemorySessionStore:
        return MemorySessionStore()
