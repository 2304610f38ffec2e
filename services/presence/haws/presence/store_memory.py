"""An in-memory ``VersionedStore`` with the KV semantics, for unit tests."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from haws.presence.store import StoreConflict, Update, Updates, Versioned


class MemoryStore:
    def __init__(self) -> None:
        self._values: dict[str, Versioned] = {}
        self._revision = 0
        self._watchers: list[tuple[str, asyncio.Queue[Update]]] = []

    def _write(self, key: str, value: bytes | None) -> int:
        self._revision += 1
        if value is None:
            self._values.pop(key, None)
        else:
            self._values[key] = Versioned(value, self._revision)
        update = Update(key, value, self._revision, time.time())
        for prefix, queue in self._watchers:
            if key.startswith(prefix):
                queue.put_nowait(update)
        return self._revision

    def _check(self, key: str, revision: int) -> None:
        current = self._values.get(key)
        if current is None or current.revision != revision:
            raise StoreConflict(f"{key}: expected revision {revision}")

    async def get(self, key: str) -> Versioned | None:
        return self._values.get(key)

    async def create(self, key: str, value: bytes) -> int:
        if key in self._values:
            raise StoreConflict(f"{key}: exists")
        return self._write(key, value)

    async def update(self, key: str, value: bytes, revision: int) -> int:
        self._check(key, revision)
        return self._write(key, value)

    async def delete(self, key: str, revision: int) -> None:
        self._check(key, revision)
        self._write(key, None)

    @contextlib.asynccontextmanager
    async def watch(self, prefix: str) -> AsyncIterator[Updates]:
        queue: asyncio.Queue[Update] = asyncio.Queue()
        entry = (prefix, queue)
        initial = sorted(
            (Update(k, v.value, v.revision, time.time()) for k, v in self._values.items()),
            key=lambda u: u.revision,
        )
        self._watchers.append(entry)

        async def updates() -> Updates:
            for update in initial:
                if update.key.startswith(prefix):
                    yield update
            yield None
            while True:
                yield await queue.get()

        try:
            yield updates()
        finally:
            self._watchers.remove(entry)

    async def forget(self, key: str, revision: int) -> None:
        """Nothing to do: this store keeps no delete markers."""
