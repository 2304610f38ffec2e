"""Session records by session id: in JetStream KV, or in memory for unit tests.

Both keep a record for the session TTL after its last write (the KV bucket's
``max_age``); a missing or expired session reads as ``None``. Writes (one per
new connection, then the keeper's refreshes) are publishes to the key's
``$KV`` subject acked on the gateway's one ``AckInbox``: ``KeyValue.put`` went
through ``Client.request`` (a NUID, ``wait_for``, a ``PubAck``) for each. Reads
(one per resume) stay nats-py's, bounded with ``asyncio.timeout``, not
``wait_for`` (which wrapped each in a task of its own).
"""

from __future__ import annotations

import asyncio
import re
from typing import Final, Protocol

from nats.js.errors import InvalidKeyError, KeyNotFoundError
from nats.js.kv import KeyValue

from haws.common import names
from haws.common.ack_inbox import AckInbox
from haws.common.session_record import SessionRecord

_KEY: Final = re.compile(r"[-/_=a-zA-Z0-9]+(\.[-/_=a-zA-Z0-9]+)*")
"""A key nats-py's ``KeyValue`` accepts (no wildcard, no empty token)."""
_DELETE: Final = {"KV-Operation": "DEL"}


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
    """Errors are nats-py's, as ``KeyValue`` raised them: ``InvalidKeyError`` for a
    bad key, ``nats.errors.TimeoutError`` (a ``TimeoutError``) when no ack comes
    within ``timeout``, ``APIError`` for a refused write, ``ConnectionClosedError``
    once the inbox stopped."""

    def __init__(self, kv: KeyValue, acks: AckInbox, *, bucket: str, timeout: float) -> None:
        self._kv = kv
        self._acks = acks
        self._prefix = names.kv_key_prefix(bucket)
        self._timeout = timeout

    def _subject(self, session: str) -> str:
        if _KEY.fullmatch(session) is None:
            raise InvalidKeyError(session)
        return self._prefix + session

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
        await self._acks.publish(self._subject(session), record.encode(), None, self._timeout)

    async def delete(self, session: str) -> None:
        await self._acks.publish(self._subject(session), b"", _DELETE, self._timeout)


class MemorySessionStore:
    def __init__(self) -> None:
        self.records: dict[str, SessionRecord] = {}

    async def get(self, session: str) -> SessionRecord | None:
        return self.records.get(session)

    async def put(self, session: str, record: SessionRecord) -> None:
        self.records[session] = record

    async def delete(self, session: str) -> None:
        self.records.pop(session, None)
