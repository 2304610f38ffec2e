"""Delete markers waiting to be purged.

KV deletes leave a marker per key so watchers learn of them; with a session id
per client, markers would pile up forever and slow every replica's initial
load. The feed queues each marker it sees; the leader purges those older than
``tombstone_age``, long after any live watcher has applied them.
"""

from __future__ import annotations

from collections import deque


class Tombstones:
    def __init__(self) -> None:
        self._queue: deque[tuple[float, str, int]] = deque()

    def add(self, key: str, revision: int, at: float) -> None:
        self._queue.append((at, key, revision))

    def due(self, now: float, age: float, limit: int) -> list[tuple[str, int]]:
        """Up to ``limit`` markers written before ``now - age``, oldest first, taken off."""
        out: list[tuple[str, int]] = []
        while self._queue and len(out) < limit and self._queue[0][0] <= now - age:
            _, key, revision = self._queue.popleft()
            out.append((key, revision))
        return out

    def __len__(self) -> int:
        return len(self._queue)
