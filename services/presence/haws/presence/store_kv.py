"""``VersionedStore`` on a JetStream KV bucket: revisions are stream sequences.

nats-py errors become ``StoreConflict`` (wrong last sequence) or
``StoreUnavailable`` (timeouts, no responders, connection trouble), so the
rest of the service never imports nats.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import TypeVar

import nats.errors
import nats.js.errors
from nats.js.client import JetStreamContext
from nats.js.kv import KeyValue

from haws.presence.store import StoreConflict, StoreUnavailable, Update, Updates, Versioned

T = TypeVar("T")

# JSStreamWrongLastSequenceErrF and its constant twin: a conditional write lost.
_WRONG_LAST_SEQUENCE = (10071, 10164)


@contextlib.contextmanager
def _translated(key: str) -> Iterator[None]:
    try:
        yield
    except nats.js.errors.KeyWrongLastSequenceError as exc:
        raise StoreConflict(f"{key}: {exc.description}") from None
    except nats.js.errors.APIError as exc:
        if exc.err_code in _WRONG_LAST_SEQUENCE:
            raise StoreConflict(f"{key}: {exc.description}") from None
        raise StoreUnavailable(f"{key}: {exc!r}") from exc
    except (nats.errors.Error, OSError) as exc:
        # nats.errors.TimeoutError, NoRespondersError, ConnectionClosedError, ...
        raise StoreUnavailable(f"{key}: {exc!r}") from exc


class KvStore:
    def __init__(self, js: JetStreamContext, kv: KeyValue, bucket: str) -> None:
        self._js = js
        self._kv = kv
        self._stream = f"KV_{bucket}"
        self._prefix = f"$KV.{bucket}."

    async def _call(self, key: str, call: Awaitable[T]) -> T:
        with _translated(key):
            return await call

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
        return await self._call(key, self._kv.create(key, value))

    async def update(self, key: str, value: bytes, revision: int) -> int:
        return await self._call(key, self._kv.update(key, value, last=revision))

    async def delete(self, key: str, revision: int) -> None:
        await self._call(key, self._kv.delete(key, last=revision))

    @contextlib.asynccontextmanager
    async def watch(self, prefix: str) -> AsyncIterator[Updates]:
        with _translated(prefix):
            watcher = await self._kv.watch(prefix + ">")

        async def updates() -> Updates:
            async for entry in watcher:
                if entry is None:
                    yield None
                    continue
                deleted = entry.operation in ("DEL", "PURGE")
                at = entry.created.timestamp() if entry.created is not None else 0.0
                yield Update(entry.key, None if deleted else entry.value or b"", entry.revision, at)

        try:
            yield updates()
        finally:
            with contextlib.suppress(Exception):
                await watcher.stop()  # type: ignore[no-untyped-call]

    async def forget(self, key: str, revision: int) -> None:
        # Purge this key's subject below ``revision + 1``: the marker and nothing newer.
        with _translated(key):
            await self._js.purge_stream(self._stream, seq=revision + 1, subject=self._prefix + key)
