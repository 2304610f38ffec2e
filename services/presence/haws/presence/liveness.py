"""When each gateway node was last heard, on this replica's monotonic clock.

Every replica hears every heartbeat (no queue group), so whichever becomes
leader already knows who is alive. A node is never declared dead before this
replica could have heard it: ``allow`` grants a full timeout from now to nodes
it starts to care about (a new leader's, or after its own NATS reconnect or pause).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable


class NodeLiveness:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._heard: dict[str, float] = {}

    def heard(self, node: str) -> None:
        self._heard[node] = self._clock()

    def allow(self, nodes: Iterable[str]) -> None:
        """Count ``nodes`` as heard now (a start-up allowance), never earlier than they were."""
        now = self._clock()
        for node in nodes:
            self._heard[node] = max(self._heard.get(node, now), now)

    def silent_for(self, node: str) -> float:
        """Seconds since ``node`` was heard; a node first asked about counts as heard now."""
        now = self._clock()
        return now - self._heard.setdefault(node, now)

    def alive(self, timeout: float) -> int:
        now = self._clock()
        return sum(1 for at in self._heard.values() if now - at <= timeout)

    def forget_silent(self, longer_than: float, keep: set[str]) -> None:
        """Drop nodes silent for ``longer_than`` that own nothing, so the map stays small."""
        now = self._clock()
        for node, at in list(self._heard.items()):
            if now - at > longer_than and node not in keep:
                del self._heard[node]
