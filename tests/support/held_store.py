"""A session store whose next put can be held at a gate: a KV put in flight or
queued for as long as a test needs, to order a keeper's writes against a close."""

from __future__ import annotations

import asyncio

from haws.common.session_record import SessionRecord
from haws.gateway.sessions.store import SessionStore, Stored


class HeldStore:
    """``inner`` with a gate: once ``hold`` is called, the next put waits for
    ``release``. ``landed`` lists the puts in the order ``inner`` took them."""

    def __init__(self, inner: SessionStore) -> None:
        self.inner = inner
        self.landed: list[tuple[str, SessionRecord]] = []
        self.held: str | None = None
        """The session whose put waits (or waited) at the gate."""
        self._gate = asyncio.Event()
        self._armed = False

    def hold(self) -> None:
        self._armed = True

    def release(self) -> None:
        self._gate.set()

    async def get(self, session: str) -> SessionRecord | None:
        return await self.inner.get(session)

    async def read(self, session: str) -> Stored:
        return await self.inner.read(session)

    async def put(self, session: str, record: SessionRecord, *, last: int | None = None) -> int:
        if self._armed:
            self._armed = False
            self.held = session
            await self._gate.wait()
        revision = await self.inner.put(session, record, last=last)
        self.landed.append((session, record))
        return revision

    async def delete(self, session: str) -> None:
        await self.inner.delete(session)
