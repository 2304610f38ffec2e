"""The seam to the versioned key-value store behind presence (JetStream KV in production).

Every write is conditional on the revision the writer read, so replicas that
race on one key never lose an update: the loser gets ``StoreConflict`` and
reads again. The watch is how every replica mirrors the records in memory.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from haws.protocol.errors import HawsError


class StoreError(HawsError):
    """The presence store refused or could not do an operation."""


class StoreConflict(StoreError):
    """The key's latest revision is not the one the write expected."""


class StoreUnavailable(StoreError):
    """The store did not answer in time, or the connection is down."""


@dataclass(frozen=True, slots=True)
class Versioned:
    value: bytes
    revision: int


@dataclass(frozen=True, slots=True)
class Update:
    """One watched change: ``value`` None means the key was deleted."""

    key: str
    value: bytes | None
    revision: int
    at: float
    """Wall-clock seconds of the write (the tombstone purge ages markers by it)."""


Updates = AsyncGenerator[Update | None, None]
"""The watch: the current values (delete markers possibly among them), then one
``None`` marking the end of that initial load, then every later change in order."""


class VersionedStore(Protocol):
    async def get(self, key: str) -> Versioned | None:
        """The latest value and its revision; None when absent or deleted."""
        ...

    async def create(self, key: str, value: bytes) -> int:
        """Write only if absent (or deleted); the new revision. Else ``StoreConflict``."""
        ...

    async def update(self, key: str, value: bytes, revision: int) -> int:
        """Write only if ``revision`` is still the latest; the new revision."""
        ...

    async def delete(self, key: str, revision: int) -> None:
        """Delete only if ``revision`` is still the latest; watchers see a delete."""
        ...

    def watch(self, prefix: str) -> AbstractAsyncContextManager[Updates]:
        """Keys starting with ``prefix``; leaving the context stops the watch."""
        ...

    async def forget(self, key: str, revision: int) -> None:
        """Drop the delete marker at ``revision`` (and older entries) for good; newer stay."""
        ...
