"""The KV watch that keeps this replica's index equal to the ownership records.

The first load fills the index silently: nothing changed, this replica only
learnt the state (so a restart or a new leader emits no false join/leave).
After that every update goes to the emitter. On a NATS reconnect (or a broken
watch) the feed watches again and diffs the new initial load against the
index: whatever it missed meanwhile comes out as real changes, and deletes it
missed (their markers perhaps purged) are found by absence.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine
from typing import Any

from haws.common import names
from haws.common.logs import EventLogger
from haws.common.presence_protocol import OwnerRecord, decode
from haws.common.tasks import stop_task, stop_tasks
from haws.presence.emitter import ChangeEmitter
from haws.presence.event_relay import EventRelay
from haws.presence.index import Entry, PresenceIndex
from haws.presence.lifecycle import lifecycle_events
from haws.presence.store import StoreError, Updates, VersionedStore
from haws.presence.tombstones import Tombstones
from haws.protocol.errors import BadRequest


class IndexFeed:
    def __init__(
        self,
        store: VersionedStore,
        index: PresenceIndex,
        emitter: ChangeEmitter,
        tombstones: Tombstones,
        log: EventLogger,
        *,
        retry_delay: float = 0.5,
        relay: EventRelay | None = None,
    ) -> None:
        self._store = store
        self._index = index
        self._emitter = emitter
        self._tombstones = tombstones
        self._log = log
        self._retry_delay = retry_delay
        self._relay = relay
        self._resync = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.loaded = asyncio.Event()
        """Set once the first initial load is in the index: the replica may answer."""

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="presence-feed")

    async def stop(self) -> None:
        await stop_task(self._task)  # cancels again if a cancellation was swallowed
        self._task = None

    def resync(self) -> None:
        """Watch again from the current state (after a NATS reconnect)."""
        self._resync.set()

    async def _run(self) -> None:
        """Runs until cancelled, watching again after any failure."""
        prefix = names.KV_PRESENCE_OWNER_PREFIX
        while True:
            self._resync.clear()
            try:
                async with self._store.watch(prefix) as updates:
                    await self._until_resync(self._consume(prefix, updates))
            except StoreError as exc:
                self._log.warning("presence.watch_failed", error=str(exc))
            except Exception:
                self._log.exception("presence.watch_crashed")
            else:
                self._log.info("presence.resync")
                continue
            await asyncio.sleep(self._retry_delay)  # back off before watching again

    async def _until_resync(self, consume: Coroutine[Any, Any, None]) -> None:
        """Run ``consume`` until it ends or a resync is asked for; re-raise its failure."""
        consumer = asyncio.create_task(consume)
        resync = asyncio.create_task(self._resync.wait())
        try:
            await asyncio.wait({consumer, resync}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await stop_tasks([consumer, resync])
        if not consumer.cancelled() and (error := consumer.exception()) is not None:
            raise error

    async def _consume(self, prefix: str, updates: Updates) -> None:
        silent = not self.loaded.is_set()
        seen: set[str] | None = set()  # None once the initial load is over
        async with contextlib.aclosing(updates):
            async for update in updates:
                if update is None:
                    if seen is not None:
                        await self._initial_load_done(seen, silent)
                        seen = None
                    continue
                session = update.key[len(prefix) :]
                record = self._decode(session, update.value)
                before = self._index.get(session)
                changes = self._index.apply(session, record, update.revision)
                if update.value is None:
                    self._tombstones.add(update.key, update.revision, update.at)
                if seen is not None:
                    seen.add(session)
                    if silent:
                        changes = []
                if not (silent and seen is not None):
                    self._lifecycle(session, before, record, update.revision)
                await self._emitter.record(update.revision, changes)

    async def _initial_load_done(self, seen: set[str], silent: bool) -> None:
        # Sessions the index holds but the store no longer does were deleted while
        # this watch was down; their markers may be gone, so absence is the proof.
        for session in self._index.sessions() - seen:
            before = self._index.get(session)
            changes = self._index.apply(session, None, None)
            if not silent:
                self._lifecycle(session, before, None, self._emitter.processed)
                await self._emitter.record(self._emitter.processed, changes, unseen=True)
        if silent and self._emitter.large is not None:
            self._emitter.large.settle()
        if not self.loaded.is_set():
            self._log.info("presence.loaded", sessions=len(self._index.sessions()))
            self.loaded.set()

    def _lifecycle(
        self, session: str, before: Entry | None, record: OwnerRecord | None, revision: int
    ) -> None:
        """Hand the update's lifecycle events to the relay (a replayed revision has none)."""
        if self._relay is None or (before is not None and revision <= before.revision):
            return
        old = before.record if before is not None else None
        now = int(time.time() * 1000)
        self._relay.record(lifecycle_events(session, old, record, revision, now))

    def _decode(self, session: str, value: bytes | None) -> OwnerRecord | None:
        if value is None:
            return None
        try:
            return decode(OwnerRecord, value)
        except BadRequest as exc:
            self._log.warning("presence.bad_record", session=session, error=exc.message)
            return None
