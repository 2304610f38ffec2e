"""One write pass per event-loop iteration for every connection with queued frames.

Fan-out queues a frame on each subscriber and marks it dirty; the pass, scheduled
once with ``call_soon`` when the first connection turns dirty, then writes each
one's frames with a single ``transport.write``. No task, future or wake-up per
connection per message, and nothing per idle connection: only a connection whose
socket is paused (above its high-water mark), compressed or closing gets a task,
for as long as that lasts (see ``Connection``).

While the node is behind (``load.LoopLoad``), a pass is scheduled ``coalesce``
seconds later instead of in the next iteration, so each write carries more.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from haws.common.logs import EventLogger
from haws.gateway.delivery.load import LoopLoad
from haws.gateway.delivery.wire import WireFrames


class Flushable(Protocol):
    def flush(self, wire: WireFrames) -> None:
        """Write what is queued now (or hand it to the connection's task); never raises
        for a peer that went away."""
        ...


class Flusher:
    __slots__ = ("_dirty", "_load", "_log", "_wire")

    def __init__(self, log: EventLogger, load: LoopLoad | None = None) -> None:
        self._dirty: list[Flushable] = []
        self._wire = WireFrames()
        self._log = log
        self._load = load
        """While it says the loop is behind, a pass waits to gather frames (``load``)."""

    def schedule(self, conn: Flushable) -> None:
        """Flush ``conn`` in this iteration's pass; the caller marks it dirty, so a
        connection is scheduled at most once per pass."""
        if not self._dirty:
            loop, load = asyncio.get_running_loop(), self._load
            if load is not None and load.busy:
                loop.call_later(load.coalesce, self._flush)
            else:
                loop.call_soon(self._flush)
        self._dirty.append(conn)

    def _flush(self) -> None:
        dirty, self._dirty = self._dirty, []
        wire = self._wire
        try:
            for conn in dirty:
                try:
                    conn.flush(wire)
                except Exception as exc:  # one broken socket must not starve the others
                    self._log.exception("ws.flush_failed", error=repr(exc))
        finally:
            wire.clear()
