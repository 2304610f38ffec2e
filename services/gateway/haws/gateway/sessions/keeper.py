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

A round first picks the connections whose record is due, comparing their
subscriptions with the record last written and building nothing; only those
get a record and a put, from at most ``concurrency`` workers. A round with
nothing due (an idle node, most rounds) makes no task and no record: a task or
a coroutine per connection per second was most of an idle node's CPU.

Picking first means a connection may close between the pick and its put. The
final record written on close must be the last write of that connection, or a
late round put could roll back the record a resume elsewhere has written since;
so a round never puts for a connection that is closing or gone, and the final
write waits for a round put of it already in flight (bounded by the store's own
timeout).

A fenced connection (its claim gave it a presence epoch) writes only on the
revision it last saw: its hello's read (0 for a session minted here), then
each of its own writes. A write that finds another revision reads the record:
another node's record with an epoch at least its own is a newer owner's (the
client resumed there and this node has not heard yet), and this connection
writes the session no more; an older epoch's is an older owner's late write,
and it is written over. So a takeover that is late never lets the older node
roll the newer record back, nor the older node's last write stand, and the
final write on close needs no read before it. An unfenced connection (epoch 0:
no presence service) has no order to go by: its rounds write as the last
writer, and its close reads first and leaves a record another node wrote.

A cursor is the last seq handed to the socket: while a connection's send queue
still holds frames its cursors are not advanced.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable, Iterator

from haws.common.logs import EventLogger
from haws.common.session_record import SessionRecord, TopicState
from haws.common.tasks import stop_task
from haws.gateway.delivery.connection import Connection
from haws.gateway.fanout.hub import Hub
from haws.gateway.sessions.store import SessionStore, StaleRecord, Stored

FLUSH_CONCURRENCY = 64
"""Round puts in flight at once (one at a time, a reconnect storm's records
trailed by seconds)."""


class _Change(enum.Enum):
    """How a connection's record differs from the one last written."""

    NONE = 0
    CURSORS = 1
    TOPICS = 2


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
        concurrency: int = FLUSH_CONCURRENCY,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        self._store = store
        self._hub = hub
        self._log = log
        self._node = node
        self._interval = interval
        self._cursor_interval = cursor_interval
        self._refresh_after = ttl / 2
        self._clock = clock or asyncio.get_running_loop().time
        self._concurrency = concurrency
        self._written: dict[str, tuple[SessionRecord, float]] = {}
        """Per session, the record last written and when."""
        self._closing: set[Connection] = set()
        """Connections whose final record is being written: no round puts for them."""
        self._in_flight: set[Connection] = set()
        """Connections with a put awaiting the store."""
        self._settled: dict[Connection, asyncio.Event] = {}
        """Set when the in-flight put of a closing connection is done (made on demand)."""
        self._restoring: set[Connection] = set()
        """Resumed connections whose subscriptions are not all restored yet."""
        self._revisions: dict[Connection, int] = {}
        """The record revision each connection last saw; none: read before writing."""
        self._moved: set[Connection] = set()
        """Connections whose record another node has written since: never written again."""
        self._finals: dict[str, asyncio.Event] = {}
        """Sessions whose closed connection's final record this node is writing: a hello
        of the session here waits for it, and so reads the final record."""
        self._task: asyncio.Task[None] | None = None

    async def load(self, session: str) -> SessionRecord | None:
        stored = await self.read(session)
        return stored.record if stored is not None else None

    async def read(self, session: str) -> Stored | None:
        """The record and its revision; None when the store did not answer.

        A quick reconnect to this node finds its previous connection's final write
        under way: it waits for it (bounded by the store's own timeout, as that
        write is), so it restores the final cursors and writes on their revision."""
        pending = self._finals.get(session)
        if pending is not None:
            await pending.wait()
        return await self._read_now(session)

    async def _read_now(self, session: str) -> Stored | None:
        try:
            return await self._store.read(session)
        except Exception as exc:  # KV away: resume from the client's cursors alone
            self._log.warning("session.load_failed", session=session, error=repr(exc))
            return None

    def opened(self, conn: Connection, revision: int | None) -> None:
        """``conn`` holds its session at ``revision`` (its hello's read; 0 for a session
        minted here; None: unknown, its first write reads first)."""
        if revision is not None:
            self._revisions[conn] = revision

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
        return SessionRecord(subs=subs, node=self._node, user=conn.user, epoch=conn.epoch)

    def _change(self, conn: Connection, previous: SessionRecord) -> _Change:
        """What ``record_of(conn)`` would change in ``previous``, without building it."""
        old_subs = previous.subs
        subs = conn.subs
        if len(subs) != len(old_subs):
            return _Change.TOPICS
        settled = len(conn.queue) == 0
        topics = self._hub.topics
        moved = previous.user != conn.user
        for name, sub in subs.items():
            old = old_subs.get(name)
            if old is None or old.presence != sub.presence:
                return _Change.TOPICS
            if settled and not moved:
                topic = topics.get(name)
                seq = topic.last_seq if sub.live and topic is not None else sub.seq
                moved = seq != old.seq
        return _Change.CURSORS if moved else _Change.NONE

    def restoring(self, conn: Connection) -> None:
        """``conn`` resumes a session whose subscriptions it is still restoring.

        Until ``restored``, no round writes its record: the one in KV lists every
        topic the session had, while ``conn`` holds only those restored so far (none
        while its claim is awaited). Written now, it would drop the rest, and a resume
        elsewhere after this node died would restore nothing of them. A connection
        that ends before ``restored`` leaves that record as it was.
        """
        self._restoring.add(conn)

    def restored(self, conn: Connection) -> None:
        self._restoring.discard(conn)

    def _open(self, conn: Connection) -> bool:
        """A round may write its record: not taken over, not closing, not restoring,
        still on this node."""
        return (
            not conn.taken_over
            and conn not in self._closing
            and conn not in self._restoring
            and conn not in self._moved
            and conn in self._hub.connections
        )

    def _is_due(self, conn: Connection, now: float) -> bool:
        """Whether this round writes ``conn``'s record; the rules of ``_due``, sooner."""
        written = self._written.get(conn.session)
        if written is None:
            return True
        previous, at = written
        age = now - at
        if age >= self._cursor_interval and age >= self._refresh_after:
            return True  # due whatever changed
        change = self._change(conn, previous)
        if change is _Change.TOPICS:
            return True
        if change is _Change.CURSORS:
            return age >= self._cursor_interval
        return age >= self._refresh_after

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

    async def _put(self, conn: Connection, record: SessionRecord, *, final: bool) -> None:
        self._in_flight.add(conn)
        try:
            written = await self._write(conn, record)
        except Exception as exc:  # next round retries; the client's cursors still hold
            self._revisions.pop(conn, None)  # landed or not: the next write reads first
            self._log.warning("session.write_failed", session=conn.session, error=repr(exc))
        else:
            if written and (final or self._open(conn)):
                self._written[conn.session] = (record, self._clock())
        finally:
            self._in_flight.discard(conn)
            settled = self._settled.pop(conn, None)
            if settled is not None:
                settled.set()

    async def _write(self, conn: Connection, record: SessionRecord) -> bool:
        """Put ``record``, fenced on the revision ``conn`` last saw; False (nothing
        written) once a newer owner elsewhere has written the session's record."""
        if not conn.epoch:
            self._revisions[conn] = await self._store.put(conn.session, record)
            return True
        last = self._revisions.get(conn)
        if last is None:
            last = await self._writable(conn)
            if last is None:
                return False
        try:
            revision = await self._store.put(conn.session, record, last=last)
        except StaleRecord:
            # Another write came between: this node's own (an ack lost in a timeout,
            # the record expired), or another node's.
            last = await self._writable(conn)
            if last is None:
                return False
            revision = await self._store.put(conn.session, record, last=last)
        self._revisions[conn] = revision
        return True

    async def _writable(self, conn: Connection) -> int | None:
        """The revision to write ``conn``'s record on, read now; None if a newer owner
        wrote it (the session lives there now: ``conn`` writes it no more)."""
        stored = await self._store.read(conn.session)
        if newer_owner(stored.record, self._node, conn.epoch):
            self._moved.add(conn)
            self._log.info("session.moved", session=conn.session, epoch=conn.epoch)
            return None
        return stored.revision

    async def _write_round(self, due: Iterator[Connection]) -> None:
        """One worker of a round, taking due connections from the round's shared
        iterator until it is empty; each record is built at its put, not at the pick."""
        for conn in due:
            if self._open(conn):  # the closing guard: it may have closed since the pick
                await self._put(conn, self.record_of(conn), final=False)

    async def flush(self) -> None:
        """Write the due records, at most ``concurrency`` puts in flight at once."""
        now = self._clock()
        due = [c for c in self._hub.connections if self._open(c) and self._is_due(c, now)]
        if not due:
            return
        if len(due) == 1:
            await self._write_round(iter(due))
            return
        queue = iter(due)
        async with asyncio.TaskGroup() as workers:
            for _ in range(min(self._concurrency, len(due))):
                workers.create_task(self._write_round(queue), name="session-keeper-put")

    async def _put_in_flight(self, conn: Connection) -> None:
        """Until a round's put of ``conn`` already sent to the store has returned."""
        if conn in self._in_flight:
            settled = self._settled.setdefault(conn, asyncio.Event())
            await settled.wait()

    async def closed(self, conn: Connection) -> None:
        """Write the final record of a closed connection; it stays resumable for the TTL.

        Skipped when another node has written the record since (the client already
        resumed there): a late final write from here must not roll it back (the
        conditional write finds that out, ``_write``). No round writes the
        connection from here on, and one in flight lands first.
        """
        self._closing.add(conn)
        final = self._finals[conn.session] = asyncio.Event()
        try:
            if conn in self._restoring:
                return  # ended before its restore did: the record in KV is the whole one
            await self._put_in_flight(conn)
            if conn.taken_over or conn in self._moved:
                return  # the session's record is the newer connection's now
            if not conn.epoch:  # unfenced: read first, leave another node's record
                current = await self._read_now(conn.session)  # not waiting for itself
                if current is not None and newer_owner(current.record, self._node, 0):
                    return
            record = self.record_of(conn)
            if self._due(conn.session, record, final=True):
                await self._put(conn, record, final=True)
        finally:
            self._closing.discard(conn)
            self._restoring.discard(conn)
            self._moved.discard(conn)
            self._revisions.pop(conn, None)
            self._written.pop(conn.session, None)
            final.set()
            if self._finals.get(conn.session) is final:
                del self._finals[conn.session]

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="session-keeper")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None


def newer_owner(stored: SessionRecord | None, node: str, epoch: int) -> bool:
    """Whether ``stored`` is the record of a newer owner than a connection of ``node``
    at ``epoch``: another node's, at an epoch at least as high (two nodes never get
    the same epoch from the presence service, so a tie is a record of unknown age,
    and it is not overwritten)."""
    return stored is not None and stored.node != node and stored.epoch >= epoch


def _topics(record: SessionRecord) -> dict[str, bool]:
    """What a resume restores besides the cursors: the topics and their presence flags."""
    return {name: state.presence for name, state in record.subs.items()}
