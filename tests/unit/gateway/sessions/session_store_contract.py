"""The ``SessionStore`` contract, run against the memory store (unit) and KV (integration).

A subclass provides a ``store`` fixture; each test draws session ids of its own.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from haws.common.session_record import SessionRecord, TopicState
from haws.gateway.sessions.store import SessionStore, StaleRecord


def new_session() -> str:
    return f"s-{uuid.uuid4().hex}"


def record(seq: int, node: str = "gw-1") -> SessionRecord:
    return SessionRecord(subs={"t.a": TopicState(seq, presence=True)}, node=node, user="u1")


class SessionStoreContract:
    async def test_an_unknown_session_reads_as_none(self, store: SessionStore) -> None:
        assert await store.get(new_session()) is None

    async def test_a_put_record_reads_back_equal(self, store: SessionStore) -> None:
        session = new_session()
        await store.put(session, record(7))
        assert await store.get(session) == record(7)

    async def test_the_last_writer_wins(self, store: SessionStore) -> None:
        session = new_session()
        await store.put(session, record(1, node="gw-1"))
        await store.put(session, record(2, node="gw-2"))
        assert await store.get(session) == record(2, node="gw-2")

    async def test_a_deleted_session_reads_as_none_and_can_be_written_again(
        self, store: SessionStore
    ) -> None:
        session = new_session()
        await store.put(session, record(1))
        await store.delete(session)
        assert await store.get(session) is None
        await store.delete(session)  # deleting twice is no error
        await store.put(session, record(3))
        assert await store.get(session) == record(3)

    async def test_sessions_are_kept_apart_under_concurrent_writes(
        self, store: SessionStore
    ) -> None:
        sessions = [new_session() for _ in range(40)]
        await asyncio.gather(*(store.put(s, record(i)) for i, s in enumerate(sessions)))
        got = await asyncio.gather(*(store.get(s) for s in sessions))
        assert got == [record(i) for i in range(40)]

    async def test_a_read_names_the_revision_a_conditional_put_writes_on(
        self, store: SessionStore
    ) -> None:
        session = new_session()
        assert (await store.read(session)).revision == 0  # never written
        first = await store.put(session, record(1), last=0)
        stored = await store.read(session)
        assert (stored.record, stored.revision) == (record(1), first)
        second = await store.put(session, record(2), last=first)
        assert second > first
        assert await store.get(session) == record(2)

    async def test_a_conditional_put_on_a_stale_revision_writes_nothing(
        self, store: SessionStore
    ) -> None:
        session = new_session()
        seen = await store.put(session, record(1, node="gw-1"))
        await store.put(session, record(2, node="gw-2"))  # another node's write
        with pytest.raises(StaleRecord):
            await store.put(session, record(3, node="gw-1"), last=seen)
        with pytest.raises(StaleRecord):
            await store.put(session, record(3, node="gw-1"), last=0)  # it exists
        assert await store.get(session) == record(2, node="gw-2")

    async def test_a_deleted_session_has_a_revision_to_write_on_again(
        self, store: SessionStore
    ) -> None:
        session = new_session()
        written = await store.put(session, record(1))
        await store.delete(session)
        stored = await store.read(session)
        assert stored.record is None
        assert stored.revision > written  # the delete's marker
        with pytest.raises(StaleRecord):
            await store.put(session, record(2), last=written)
        await store.put(session, record(2), last=stored.revision)
        assert await store.get(session) == record(2)
