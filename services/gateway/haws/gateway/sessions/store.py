"""Session records by session id: in JetStream KV, or in memory for unit tests.

Both keep a record for the session TTL after its last write (the KV bucket's
``max_age``); a missing or expired session reads as ``None``. The KV calls are
bounded with ``asyncio.timeout``, not ``wait_for``: one read per resume and one
write per new connection, and ``wait_for`` wrapped each in a task of its own.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from haws.common.session_record import SessionRecord


class SessionStore(Protocol):
    async def get(self, session: str) -> SessionRecord | None:
        """The stored record, ``None`` when absent or expired."""
        ...

    async def put(self, session: str, record: SessionRecord) -> None:
        """Store and restart the session's TTL; last writer wins."""
        ...

    async def delete(self, session: str) -> None:
        """Forget the session (it is no longer resumable)."""
        ...


class KvSessionStore:
    def __init__(self, kv: KeyValue, *, timeout: float) -> None:
        self._kv = kv
        self._timeout = timeout

    async def get(self, session: str) -> SessionRecord | None:
        try:
            async with asyncio.timeout(self._timeout):
                entry = await self._kv.get(session)
        except KeyNotFoundError:
            return None
        if not entry.value:
            return None
        return SessionRecord.decode(entry.value)

    async def put(self, session: str, record: SessionRecord) -> None:
        async with asyncio.timeout(self._timeout):
            await self._kv.put(session, record.encode())

    async def delete(self, session: str) -> None:
        async with asyncio.timeout(self._timeout):
            await self._kv.delete(session)


class MemorySessionStore:
    def __init__(self) -> None:
        self.records: dict[str, SessionRecord] = {}

    async def get(self, session: str) -> SessionRecord | None:
        return self.records.get(session)

    async def put(self, session: str, record: SessionRecord) -> None:
        self.records[session] = record

    async def delete(self, session: str) -> None:
        self.records.pop(session, None)
