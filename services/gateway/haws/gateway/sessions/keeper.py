"""Keeps each connection's session record current in the store, cheaply.

One timer per node, not one write per message: every ``interval`` the keeper
writes the records whose subscriptions changed since their last write. A
record whose only change is a moved cursor waits for ``cursor_interval``: on a
busy topic every cursor moves all the time, and rewriting every connection's
record every second cost the node (and JetStream) more than its clients did.
Clients that keep their own cursors (the SDKs do) lose nothing by it; others
may see up to ``cursor_interval`` of messages again after a failover. A record
unchanged for half the session TTL is written again, so the store does not
expire the session of a connection that is still open.

A cursor is the last seq handed to the socket: while a connection's send queue
still holds frames its cursors are not advanced.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from haws.common.logs import EventLogger
from haws.common.session_record import SessionRecord, TopicState
from haws.common.tasks import stop_task
from haws.gateway.delivery.connection import Connection
from haws.gateway.fanout.hub import Hub
from haws.gateway.sessions.store import SessionStore

FLUSH_CONCURRENCY = 64


class SessionKeeper:
    def __init__(
        self,
        store: SessionStore,
        hub: Hub,
        log: EventLogger,
        *,
        node: str,
        interval: float,
        cursor_interval: float,
        ttl: float,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._store = store
        self._hub = hub
        self._log = log
        self._node = node
        self._interval = interval
        self._cursor_interval = cursor_interval
        self._refresh_after = ttl / 2
        self._clock = clock or asyncio.get_running_loop().time
        self._written: dict[str, tuple[SessionRecord, float]] = {}
        """Per session, the record last written and when."""
        self._task: asyncio.Task[None] | None = None

    async def load(self, session: str) -> SessionRecord | None:
        try:
            return await self._store.get(session)
        except Exception as exc:  # KV away: resume from the client's cursors alone
            self._log.warning("session.load_failed", session=session, error=repr(exc))
            return None

    def record_of(self, conn: Connection) -> SessionRecord:
        written = self._written.get(conn.session)
        previous = written[0] if written is not None else None
        settled = len(conn.queue) == 0
        subs: dict[str, TopicState] = {}
        for name, sub in conn.subs.items():
            if settled:
                topic = self._hub.topics.get(name)
                seq = topic.last_seq if sub.live and topic is not None else sub.seq
            else:
                old = previous.subs.get(name) if previous else None
                seq = old.seq if old is not None else sub.seq
            subs[name] = TopicState(seq, sub.presence)
        return SessionRecord(subs=subs, node=self._node, user=conn.user)

    def _due(self, session: str, record: SessionRecord, *, final: bool) -> bool:
        written = self._written.get(session)
        if written is None:
            return True
        previous, at = written
        if previous == record:
            return self._clock() - at >= self._refresh_after
        if final or _topics(previous) != _topics(record):
            return True
        return self._clock() - at >= self._cursor_interval

    async def _write(self, conn: Connection, *, final: bool = False) -> None:
        if conn.taken_over:
            return  # the session's record is the newer connection's now
        record = self.record_of(conn)
        if not self._due(conn.session, record, final=final):
            return
        try:
            await self._store.put(conn.session, record)
            self._written[conn.session] = (record, self._clock())
        except Exception as exc:  # next round retries; the client's cursors still hold
            self._log.warning("session.write_failed", session=conn.session, error=repr(exc))

    async def flush(self) -> None:
        """Write the changed records, ``FLUSH_CONCURRENCY`` KV puts in flight at once
        (one at a time, a reconnect storm's records trailed by seconds)."""
        conns = list(self._hub.connections)
        for start in range(0, len(conns), FLUSH_CONCURRENCY):
            await asyncio.gather(
                *(self._write(c) for c in conns[start : start + FLUSH_CONCURRENCY])
            )

    async def closed(self, conn: Connection) -> None:
        """Write the final record of a closed connection; it stays resumable for the TTL.

        Skipped when another node has written the record since (the client already
        resumed there): a late final write from here must not roll it back.
        """
        try:
            current = await self.load(conn.session)
            if current is None or current.node == self._node:
                await self._write(conn, final=True)
        finally:
            self._written.pop(conn.session, None)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="session-keeper")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None


def _topics(record: SessionRecord) -> dict[str, bool]:
    """What a resume restores besides the cursors: the topics and their presence flags."""
    return {name: state.presence for name, state in record.subs.items()}
