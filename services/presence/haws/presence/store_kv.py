"""``VersionedStore`` on a JetStream KV bucket: revisions are stream sequences.

nats-py errors become ``StoreConflict`` (wrong last sequence) or
``StoreUnavailable`` (timeouts, no responders, connection trouble), so the
rest of the service never imports nats. Writes go through an ``AckInbox``
(the hot path of every claim and event), the watch through ``KvWatch`` (every
replica takes every write from it); reads and purges through nats-py's KV.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import NoReturn

import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.js.client import JetStreamContext
from nats.js.kv import KeyValue

from haws.common import names
from haws.common.ack_inbox import AckInbox
from haws.presence.kv_watch import HEARTBEAT, KvWatch
from haws.presence.store import StoreConflict, StoreUnavailable, Updates, Versioned

_OPERATION = "KV-Operation"


def _translation(key: str, exc: Exception) -> StoreConflict | StoreUnavailable | None:
    """The store's error for a nats-py one; None for anything else (raised as is)."""
    if isinstance(exc, nats.js.errors.KeyWrongLastSequenceError):
        return StoreConflict(f"{key}: {exc.description}")
    if isinstance(exc, nats.js.errors.APIError):
        if exc.err_code in names.WRONG_LAST_SEQUENCE:
            return StoreConflict(f"{key}: {exc.description}")
        return StoreUnavailable(f"{key}: {exc!r}")
    if isinstance(exc, nats.errors.Error | OSError):
        # nats.errors.TimeoutError, NoRespondersError, ConnectionClosedError, ...
        return StoreUnavailable(f"{key}: {exc!r}")
    return None


def _reraise(key: str, exc: Exception) -> NoReturn:
    translated = _translation(key, exc)
    if translated is None:
        raise exc
    if isinstance(translated, StoreConflict):
        raise translated from None
    raise translated from exc


@contextlib.contextmanager
def _translated(key: str) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        _reraise(key, exc)


class KvStore:
    def __init__(
        self,
        js: JetStreamContext,
        kv: KeyValue,
        bucket: str,
        acks: AckInbox,
        *,
        nc: NatsClient,
        timeout: float,
        heartbeat: float = HEARTBEAT,
    ) -> None:
        self._nc = nc
        self._heartbeat = heartbeat
        self._js = js
        self._kv = kv
        self._acks = acks
        self._timeout = timeout
        self._stream = f"KV_{bucket}"
        self._prefix = f"$KV.{bucket}."

    async def _write(self, key: str, value: bytes, last: int, *, delete: bool = False) -> int:
        headers = {names.HDR_EXPECTED_LAST_SUBJECT_SEQ: str(last)}
        if delete:
            headers[_OPERATION] = "DEL"
        # A plain ``try`` (not ``_translated``): a context manager per write cost
        # a few percent of a replica's CPU in a claim storm.
        try:
            return await self._acks.publish(self._prefix + key, value, headers, self._timeout)
        except Exception as exc:
            _reraise(key, exc)

    async def get(self, key: str) -> Versioned | None:
        with _translated(key):
            try:
                entry = await self._kv.get(key)
            except nats.js.errors.NotFoundError:  # absent or deleted
                return None
        if entry.revision is None:
            return None
        return Versioned(entry.value or b"", entry.revision)

    async def create(self, key: str, value: bytes) -> int:
        try:
            return await self._write(key, value, 0)
        except StoreConflict:
            # The key may hold only a delete marker: that counts as absent, so
            # write over the marker's revision (as nats-py's ``create`` does).
            with _translated(key):
                try:
                    await self._kv.get(key)
                except nats.js.errors.KeyNotFoundError as gone:
                    # nats-py names the delete marker as the "not found" entry.
                    marker = gone.entry.revision if gone.entry is not None else None
                    if marker is not None:
                        return await self._write(key, value, marker)
            raise

    async def update(self, key: str, value: bytes, revision: int) -> int:
        return await self._write(key, value, revision)

    async def delete(self, key: str, revision: int) -> None:
        await self._write(key, b"", revision, delete=True)

    @contextlib.asynccontextmanager
    async def watch(self, prefix: str) -> AsyncIterator[Updates]:
        watch = KvWatch(
            self._nc,
            self._js,
            self._stream,
            self._prefix + prefix + ">",
            len(self._prefix),
            timeout=self._timeout,
            heartbeat=self._heartbeat,
        )
        with _translated(prefix):
            await watch.start()
        try:
            yield watch.updates()
        finally:
            await watch.stop()

    async def forget(self, key: str, revision: int) -> None:
        # Purge this key's subject below ``revision + 1``: the marker and nothing newer.
        with _translated(key):
            await self._js.purge_stream(self._stream, seq=revision + 1, subject=self._prefix + key)
