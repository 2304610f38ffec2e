"""Reads and conditional writes of ownership records: the compare-and-set loop.

Every change to a record is ``read -> rule -> write if unchanged``, retried on
conflict a bounded number of times, so concurrent claims, events and the
leader's expiry on any replica never overwrite each other. The first attempt
trusts the index's copy (saving a read when it is current); a conflict means it
was not, and later attempts read the store.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass

from haws.common import names
from haws.common.logs import EventLogger
from haws.common.presence_protocol import Claim, Event, OwnerRecord, Takeover, decode, encode
from haws.presence import transitions
from haws.presence.index import PresenceIndex
from haws.presence.metrics import PresenceMetrics
from haws.presence.store import StoreConflict, Versioned, VersionedStore
from haws.protocol.errors import BadRequest


class Delete(enum.Enum):
    DELETE = "delete"


DELETE = Delete.DELETE
Rule = Callable[[OwnerRecord | None, float], OwnerRecord | Delete | None]
"""Given the current record and the time: the new record, DELETE, or None (leave it)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    old: OwnerRecord | None
    new: OwnerRecord | None
    written: bool


@dataclass(frozen=True, slots=True)
class ClaimOutcome:
    old: OwnerRecord | None
    new: OwnerRecord
    takeover: Takeover | None
    superseded: bool = False
    """A ``fresh`` claim found the session claimed by a newer hello: nothing written."""


class Ownership:
    def __init__(
        self,
        store: VersionedStore,
        index: PresenceIndex,
        metrics: PresenceMetrics,
        log: EventLogger,
        *,
        grace: transitions.Grace,
        attempts: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._index = index
        self._metrics = metrics
        self._log = log
        self._grace = grace
        self._attempts = attempts
        self._clock = clock

    def _decode(self, session: str, stored: Versioned | None) -> OwnerRecord | None:
        if stored is None:
            return None
        try:
            return decode(OwnerRecord, stored.value)
        except BadRequest as exc:
            # Unreadable: treat as absent, and the next write replaces it.
            self._log.warning("presence.bad_record", session=session, error=exc.message)
            return None

    async def read(self, session: str) -> OwnerRecord | None:
        key = names.presence_owner_key(session)
        return self._decode(session, await self._store.get(key))

    async def change(self, session: str, rule: Rule) -> Outcome:
        """Apply ``rule`` to the latest record until a write sticks (or nothing changes).

        Only a write is checked by the store, so a verdict of "nothing to do" or
        "stale" reached on the index's copy is confirmed on a fresh read first.
        """
        key = names.presence_owner_key(session)
        cached = self._index.get(session)
        stored = Versioned(b"", cached.revision) if cached is not None else None
        old = cached.record if cached is not None else None
        fresh = False
        for _ in range(self._attempts):
            try:
                result = rule(old, self._clock())
            except transitions.StaleEvent:
                if fresh:
                    raise
                result = None
            try:
                if result is None or (result is DELETE and stored is None):
                    if fresh:
                        return Outcome(old, old, False)
                elif result is DELETE and stored is not None:
                    await self._store.delete(key, stored.revision)
                    return Outcome(old, None, True)
                elif isinstance(result, OwnerRecord):
                    value = encode(result)
                    if stored is None:
                        await self._store.create(key, value)
                    else:
                        await self._store.update(key, value, stored.revision)
                    return Outcome(old, result, True)
            except StoreConflict:
                self._metrics.conflicts.inc()
            stored = await self._store.get(key)
            old = self._decode(session, stored)
            fresh = True
        raise StoreConflict(f"{key}: still contended after {self._attempts} attempts")

    async def claim(self, session: str, claim: Claim) -> ClaimOutcome:
        def rule(old: OwnerRecord | None, now: float) -> OwnerRecord | None:
            if transitions.superseded(old, claim) or transitions.repeated(old, claim):
                return None  # nothing to write (confirmed on a fresh read by ``change``)
            return transitions.claimed(old, claim, now, self._grace)

        outcome = await self.change(session, rule)
        if outcome.new is None:  # unreachable: a claim writes, or finds a record
            raise StoreConflict(f"{session}: claim not written")
        if not outcome.written:
            if transitions.repeated(outcome.new, claim):  # a retry of a claim that landed
                return ClaimOutcome(outcome.new, outcome.new, None)
            # A fresh claim of a session a newer hello claimed.
            return ClaimOutcome(outcome.old, outcome.new, None, superseded=True)
        takeover = transitions.takeover_of(session, outcome.old, outcome.new)
        return ClaimOutcome(outcome.old, outcome.new, takeover)

    async def event(self, event: Event) -> Outcome:
        """Raises ``StaleEvent`` when the event's connection lost the session."""
        return await self.change(
            event.session, lambda old, now: transitions.after_event(old, event, now)
        )

    async def mark_offline(self, session: str, node: str) -> Outcome:
        """Offline, if still online on ``node`` (a claim elsewhere meanwhile wins)."""

        def rule(old: OwnerRecord | None, now: float) -> OwnerRecord | None:
            if old is None or old.node != node:
                return None
            return transitions.gone_offline(old, now, transitions.NODE_DEAD)

        return await self.change(session, rule)

    async def revive(self, session: str, node: str) -> Outcome:
        """Online again, if the record still names ``node`` (its node was only paused)."""

        def rule(old: OwnerRecord | None, now: float) -> OwnerRecord | None:
            if old is None or old.node != node:
                return None
            return transitions.revived(old, now)

        return await self.change(session, rule)

    async def expire(self, session: str) -> Outcome:
        """Delete, if offline for longer than the grace (a reconnect meanwhile wins)."""

        def rule(old: OwnerRecord | None, now: float) -> Delete | None:
            if old is None or not transitions.expired(old, now, self._grace):
                return None
            return DELETE

        return await self.change(session, rule)
