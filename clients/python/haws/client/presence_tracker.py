"""A topic's member list kept from one ``presence`` snapshot plus ``join``/``leave``.

After every (re)subscription the tracker asks for a snapshot; changes that
arrive before the answer are buffered and applied on top of it, in arrival
order (Phoenix's syncState/syncDiff order), so a join that raced the snapshot
is not lost and a leave that raced it leaves no ghost. A lost connection
starts the buffer again and the resubscription on the next one re-reads the
snapshot, so a member who left while the client was away does not stay listed.

(haws) A large topic is counts-only: no join/leave, only ``counts`` frames
with the totals. Then ``counts`` holds them and ``members`` is the sample the
last snapshot gave; when the topic goes back to per-member mode its whole list
arrives in a ``counts`` frame and the tracker rebuilds from it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Final, Self

from haws.client.backoff import full_jitter
from haws.client.types import (
    ClientClosed,
    PresenceAnswer,
    PresenceCounts,
    PresenceMember,
    members_of,
)
from haws.protocol.errors import HawsError

log = logging.getLogger(__name__)

Query = Callable[[str], Awaitable[PresenceAnswer]]
ChangeCallback = Callable[[tuple[PresenceMember, ...]], None]
MemberCallback = Callable[[PresenceMember], None]
CountsCallback = Callable[[PresenceCounts], None]

RETRY_BASE: Final = 0.2
"""Seconds: first ceiling of the wait before asking again for a snapshot that failed."""
RETRY_CAP: Final = 5.0

_Diff = tuple[bool, PresenceMember] | PresenceCounts
"""A buffered change: ``(True, who)`` a join, ``(False, who)`` a leave, or new totals."""


class PresenceTracker:
    """Who is on one topic, kept current; ``Client.track_presence`` makes one.

    ``members`` is the list now (a sample while the topic is counts-only, with
    the totals in ``counts``). The callbacks say what changed: ``on_join`` and
    ``on_leave`` per member (also for the difference a re-read snapshot makes),
    ``on_counts`` for new totals, ``on_change`` with the whole list after any of them.
    """

    def __init__(
        self,
        topic: str,
        query: Query,
        *,
        on_change: ChangeCallback | None = None,
        on_join: MemberCallback | None = None,
        on_leave: MemberCallback | None = None,
        on_counts: CountsCallback | None = None,
        on_close: Callable[[PresenceTracker], None] | None = None,
    ) -> None:
        self.topic = topic
        self._query = query
        self._on_change = on_change
        self._on_join = on_join
        self._on_leave = on_leave
        self._on_counts = on_counts
        self._on_close = on_close
        self._members: dict[str, PresenceMember] = {}
        self._pending: list[_Diff] | None = []  # buffering until the first snapshot
        self._task: asyncio.Task[None] | None = None
        self._attempts = 0
        self._tried = 0  # attempts that ended, answered or failed
        self._synced = False
        self._closed = False
        self._error: HawsError | None = None
        self._changed = asyncio.Event()
        self.counts: PresenceCounts | None = None
        """(haws) The totals while the topic is counts-only (``members`` is then a
        sample); ``None`` on a per-member topic."""

    # -- what the application looks at -------------------------------------------

    @property
    def members(self) -> tuple[PresenceMember, ...]:
        return tuple(self._members.values())

    @property
    def sessions(self) -> frozenset[str]:
        return frozenset(self._members)

    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, session: object) -> bool:
        return session in self._members

    @property
    def synced(self) -> bool:
        """True once a snapshot was applied since the last (re)subscription (or
        ``refresh``); False while disconnected and until the next snapshot is in."""
        return self._synced

    @property
    def attempts(self) -> int:
        """Snapshots asked for so far, failed ones included."""
        return self._attempts

    @property
    def syncing(self) -> bool:
        """A snapshot is being asked for (or waits to be asked again)."""
        return self._task is not None and not self._task.done()

    @property
    def closed(self) -> bool:
        return self._closed

    async def wait_synced(self, timeout: float | None = None) -> None:
        """Until ``synced``; ``TimeoutError`` after ``timeout``, ``ClientClosed`` if closed."""
        await self._wait_for(lambda: self._synced, timeout)

    async def wait_attempted(self, timeout: float | None = None) -> None:
        """Until the first snapshot request ended (answered or failed)."""
        await self._wait_for(lambda: self._tried > 0, timeout)

    def refresh(self) -> None:
        """Read the snapshot again now (the client does this after every
        resubscription); changes meanwhile wait and are applied on top of it."""
        if self._closed:
            return
        self._synced = False
        if self._pending is None:
            self._pending = []
        previous = self._task
        self._task = asyncio.create_task(self._sync(previous), name=f"haws presence {self.topic}")
        self._bump()

    @property
    def error(self) -> HawsError | None:
        """Why the tracker ended by itself: the gateway refused to subscribe its topic
        again after a reconnect (a narrower token, say). ``None`` otherwise."""
        return self._error

    async def close(self) -> None:
        """Stop tracking (the subscription stays): no more callbacks, ``members`` keeps
        the last list. Idempotent."""
        self._end()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _end(self) -> None:
        self._closed = True
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close(self)
        self._bump()

    # -- fed by the session, in wire order -------------------------------------

    def refused(self, error: HawsError) -> None:
        """The topic's subscription was refused for good: nothing will feed the list
        again, so the tracker ends (``closed``, with ``error``) rather than waiting
        unsynced forever. Its snapshot task is cancelled here and awaited by ``close``."""
        if self._closed:
            return
        self._error = error
        self._closed = True  # still listed by the session, whose close awaits the task
        if self._task is not None:
            self._task.cancel()
        self._bump()

    def interrupted(self) -> None:
        """The connection is gone: buffer until the next subscription's snapshot."""
        if self._closed:
            return
        self._synced = False
        if self._pending is None:
            self._pending = []
        if self._task is not None:
            self._task.cancel()  # its request would answer for the old connection
        self._bump()

    def joined(self, who: PresenceMember) -> None:
        self._diff((True, who))

    def left(self, who: PresenceMember) -> None:
        self._diff((False, who))

    def counted(self, counts: PresenceCounts) -> None:
        self._diff(counts)

    # -- the work ------------------------------------------------------------------

    async def _wait_for(self, done: Callable[[], bool], timeout: float | None) -> None:
        async with asyncio.timeout(timeout):
            while not done():
                if self._error is not None:
                    raise self._error
                if self._closed:
                    raise ClientClosed(f"presence tracker of {self.topic} closed")
                await self._changed.wait()

    def _bump(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _sync(self, previous: asyncio.Task[None] | None) -> None:
        """Ask for the snapshot until one comes (or the client closes); a failed
        attempt applies what was buffered on top of the old list and tries again."""
        if previous is not None:
            previous.cancel()
            await asyncio.gather(previous, return_exceptions=True)
        failures = 0
        while True:
            self._attempts += 1
            try:
                answer = await self._query(self.topic)
            except ClientClosed:
                self._tried += 1
                self._flush(None)
                self._closed = True  # the client is gone: nothing more will come
                self._bump()
                return
            except (HawsError, TimeoutError) as exc:
                failures += 1
                self._tried += 1
                wait = full_jitter(RETRY_BASE, RETRY_CAP, failures - 1)
                log.warning(
                    "presence snapshot of %s failed (%r), asking again in %.2f s",
                    self.topic,
                    exc,
                    wait,
                )
                self._flush(None)
                self._pending = []
                self._bump()
                await asyncio.sleep(wait)  # a backoff, not a synchronisation
                continue
            self._tried += 1
            self._flush(answer)
            return

    def _flush(self, answer: PresenceAnswer | None) -> None:
        diffs = self._pending or []
        self._pending = None
        if answer is not None:
            counts = None
            if answer.sample:
                counts = PresenceCounts(self.topic, answer.count or 0, answer.users or 0)
            self._reset(answer.members, counts)
            self._synced = True
        for diff in diffs:
            self._apply(diff)
        self._bump()
        self._notify(self._on_change, self.members)

    def _diff(self, diff: _Diff) -> None:
        if self._closed:
            return
        if self._pending is not None:
            self._pending.append(diff)
            return
        self._apply(diff)
        self._bump()
        self._notify(self._on_change, self.members)

    def _reset(self, snapshot: tuple[PresenceMember, ...], counts: PresenceCounts | None) -> None:
        """Replace the list; join/leave only between two whole lists (a sample's
        churn is not real members coming and going)."""
        fresh = {member.session: member for member in snapshot}
        gone: list[PresenceMember] = []
        came: list[PresenceMember] = []
        if counts is None and self.counts is None:
            gone = [m for s, m in self._members.items() if s not in fresh]
            came = [m for s, m in fresh.items() if s not in self._members]
        self._members = fresh
        self.counts = counts
        for member in gone:
            self._notify(self._on_leave, member)
        for member in came:
            self._notify(self._on_join, member)
        if counts is not None:
            self._notify(self._on_counts, counts)

    def _apply(self, diff: _Diff) -> None:
        if isinstance(diff, PresenceCounts):
            if diff.members is not None:  # back to per-member mode: the whole list
                self._reset(members_of(diff.members), None)
                return
            self.counts = diff
            self._notify(self._on_counts, diff)
            return
        join, who = diff
        known = who.session in self._members
        if join and not known:
            self._members[who.session] = who
            self._notify(self._on_join, who)
        elif not join and known:
            del self._members[who.session]
            self._notify(self._on_leave, who)

    def _notify(self, callback: Callable[[Any], None] | None, arg: Any) -> None:
        if callback is None:
            return
        try:
            callback(arg)
        except Exception:
            log.exception("presence callback %r of %s failed", callback, self.topic)
