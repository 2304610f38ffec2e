"""Session records by session id: in JetStream KV, or in memory for unit tests.

Both keep a record for the session TTL after its last write (the KV bucket's
``max_age``); a missing or expired session reads as ``None``. Writes (one per
new connection, then the keeper's refreshes) are publishes to the key's
``$KV`` subject acked on the gateway's one ``AckInbox``: ``KeyValue.put`` went
through ``Client.request`` (a NUID, ``wait_for``, a ``PubAck``) for each. Reads
(one per resume) ask the stream for the key's last message on the same inbox
(the ``MSG.GET`` call ``KeyValue.get`` makes: the bucket has no direct gets),
read from the JSON without a ``Msg``, a ``RawStreamMsg`` and an ``Entry``.

A write may be conditional on the revision its writer last saw (``last``, the
KV's compare-and-set): the keeper writes that way, so a node that missed the
news of a resume elsewhere never rolls the newer record back, and a closed
connection's final record needs no read before it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any, Final, Protocol

from nats.errors import NoRespondersError
from nats.js.errors import APIError, InvalidKeyError

from haws.common import names
from haws.common.ack_inbox import AckInbox
from haws.common.raw_replies import status
from haws.common.session_record import SessionRecord

_KEY: Final = re.compile(r"[-/_=a-zA-Z0-9]+(\.[-/_=a-zA-Z0-9]+)*")
"""A key nats-py's ``KeyValue`` accepts (no wildcard, no empty token)."""
_DELETE: Final = {"KV-Operation": "DEL"}
_GONE: Final = (b"KV-Operation: DEL", b"KV-Operation: PURGE", b"Nats-Marker-Reason:")
"""Headers of a marker, not a record: deleted, purged, or expired by the key's TTL
(the server's own marker, 2.11+)."""
_NO_MESSAGE: Final = 10037
"""JSNoMessageFoundErr: the key was never written, or its record aged out."""


class StaleRecord(Exception):
    """A conditional put found the key at another revision than the one it expected."""


@dataclass(frozen=True, slots=True)
class Stored:
    record: SessionRecord | None
    """``None`` when absent, deleted or expired."""
    revision: int
    """The key's latest revision (a delete's marker has one); 0 if it has none."""


class SessionStore(Protocol):
    async def get(self, session: str) -> SessionRecord | None:
        """The stored record, ``None`` when absent or expired."""
        ...

    async def read(self, session: str) -> Stored:
        """The stored record and the revision a conditional put would name."""
        ...

    async def put(self, session: str, record: SessionRecord, *, last: int | None = None) -> int:
        """Store and restart the session's TTL; the new revision. Without ``last`` the
        last writer wins; with it, only if the key's latest revision is ``last``
        (0: it has none), else ``StaleRecord`` and nothing is written."""
        ...

    async def delete(self, session: str) -> None:
        """Forget the session (it is no longer resumable)."""
        ...


class KvSessionStore:
    """Errors are nats-py's, as ``KeyValue`` raised them: ``InvalidKeyError`` for a
    bad key, ``nats.errors.TimeoutError`` (a ``TimeoutError``) when no answer comes
    within ``timeout``, ``NoRespondersError`` (a read) or ``NoStreamResponseError``
    (a write) without the bucket, ``APIError`` for a refused call,
    ``ConnectionClosedError`` once the inbox stopped."""

    def __init__(self, acks: AckInbox, *, bucket: str, timeout: float) -> None:
        self._acks = acks
        self._prefix = names.kv_key_prefix(bucket)
        self._msg_get = names.stream_api("MSG.GET", names.kv_stream(bucket))
        self._timeout = timeout

    def _key(self, session: str) -> str:
        if _KEY.fullmatch(session) is None:
            raise InvalidKeyError(session)
        return session

    def _subject(self, session: str) -> str:
        return self._prefix + self._key(session)

    async def get(self, session: str) -> SessionRecord | None:
        return (await self.read(session)).record

    async def read(self, session: str) -> Stored:
        request = b'{"last_by_subj":"%s"}' % self._subject(session).encode()
        block, data = await self._acks.request(self._msg_get, request, self._timeout)
        if status(block) == b"503":
            raise NoRespondersError
        try:
            answer: Any = json.loads(data)
            if "error" in answer:
                if answer["error"].get("err_code") == _NO_MESSAGE:
                    return Stored(None, 0)
                raise APIError.from_error(answer["error"])
            message = answer["message"]
            revision = int(message["seq"])
            headers = base64.b64decode(message.get("hdrs") or "")
            value = base64.b64decode(message.get("data") or "")
        except (ValueError, TypeError, KeyError, AttributeError, binascii.Error):
            raise APIError(description=f"unreadable stream reply {data[:200]!r}") from None
        if any(marker in headers for marker in _GONE) or not value:
            return Stored(None, revision)
        return Stored(SessionRecord.decode(value), revision)

    async def put(self, session: str, record: SessionRecord, *, last: int | None = None) -> int:
        subject = self._subject(session)
        if last is None:
            return await self._acks.publish(subject, record.encode(), None, self._timeout)
        headers = {names.HDR_EXPECTED_LAST_SUBJECT_SEQ: str(last)}
        try:
            return await self._acks.publish(subject, record.encode(), headers, self._timeout)
        except APIError as exc:
            if exc.err_code in names.WRONG_LAST_SEQUENCE:
                raise StaleRecord(f"{session}: not at revision {last}") from None
            raise

    async def delete(self, session: str) -> None:
        await self._acks.publish(self._subject(session), b"", _DELETE, self._timeout)


class MemorySessionStore:
    """Revisions as a stream's: one counter for every key, a delete takes one too."""

    def __init__(self) -> None:
        self.records: dict[str, SessionRecord] = {}
        self.revisions: dict[str, int] = {}
        self._last = 0

    async def get(self, session: str) -> SessionRecord | None:
        return self.records.get(session)

    async def read(self, session: str) -> Stored:
        return Stored(self.records.get(session), self.revisions.get(session, 0))

    def _bump(self, session: str) -> int:
        self._last += 1
        self.revisions[session] = self._last
        return self._last

    async def put(self, session: str, record: SessionRecord, *, last: int | None = None) -> int:
        if last is not None and self.revisions.get(session, 0) != last:
            raise StaleRecord(f"{session}: not at revision {last}")
        self.records[session] = record
        return self._bump(session)

    async def delete(self, session: str) -> None:
        self.records.pop(session, None)
        self._bump(session)
