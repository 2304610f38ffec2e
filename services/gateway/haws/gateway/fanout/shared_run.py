"""A topic's messages of one event-loop iteration, written once per subscriber.

Fan-out used to queue every message on every subscriber's send queue and mark
it dirty: per delivery a queue put, a dirty mark and a flush-pass entry. The
topic instead keeps the run of messages it fanned out since the last pass and
is itself the one entry in the node's flush pass; there it builds the run's
bytes once per codec and batch mode and hands the same bytes to every live
subscriber. A subscriber with nothing queued ahead (the usual case) writes
them to its socket at once; one that has frames queued, a task owning its
socket or a close pending queues them behind the rest (``Connection.write_run``),
so order, backpressure (4008) and close codes are what they were.

Who is live may change between a message and the pass: a subscription that
left or stopped gets the run first (``Members`` calls ``settle``), one that
joined gets only the run's messages after it joined (``Subscription.live_from``).
"""

from __future__ import annotations

from haws.common.logs import EventLogger
from haws.gateway.delivery.flusher import Flusher
from haws.gateway.delivery.wire import WireFrames
from haws.gateway.fanout.frame_cache import FrameCache
from haws.gateway.fanout.members import Members
from haws.gateway.fanout.subscriber import Subscriber
from haws.gateway.fanout.subscription import Subscription
from haws.protocol.codec import Codec


class SharedRun:
    __slots__ = ("_caches", "_dirty", "_flusher", "_log", "_members")

    def __init__(self, members: Members, flusher: Flusher | None, log: EventLogger) -> None:
        self._members = members
        self._flusher = flusher
        """None: every message is written at once (unit tests of topics without a node)."""
        self._log = log
        self._caches: list[FrameCache] = []
        self._dirty = False

    def __len__(self) -> int:
        return len(self._caches)

    def add(self, cache: FrameCache) -> None:
        """One more message for the live subscribers, written in this iteration's pass."""
        self._caches.append(cache)
        if self._flusher is None:
            self.settle()
        elif not self._dirty:
            self._dirty = True
            self._flusher.schedule(self)

    def settle(self) -> None:
        """Write the run now: who is live is about to change."""
        if self._caches:
            self._write(WireFrames())

    def flush(self, wire: WireFrames) -> None:
        """The flush pass (``Flusher``)."""
        self._dirty = False
        if self._caches:
            self._write(wire)

    def _write(self, wire: WireFrames) -> None:
        caches, self._caches = self._caches, []
        encoded: dict[tuple[Codec, bool], tuple[bytes, list[bytes], int]] = {}
        codec: Codec | None = None
        batch: bool | None = None
        data = b""
        frames: list[bytes] = []
        size = 0
        first = caches[0].message.seq
        for sub in self._members.subscriptions():
            if not sub.live:
                continue
            conn = sub.conn
            if sub.live_from >= first:
                # Joined the live set during this run: only what came after is its own.
                self._write_after(sub, caches, wire)
                continue
            if conn.codec is not codec or conn.batch is not batch:
                # Subscribers mostly share one codec and mode: one encoding for all.
                codec, batch = conn.codec, conn.batch
                entry = encoded.get((codec, batch))
                if entry is None:
                    frames = [cache.encoded(codec) for cache in caches]
                    entry = (wire.encode(frames, codec, batch), frames, sum(map(len, frames)))
                    encoded[(codec, batch)] = entry
                data, frames, size = entry
            self._hand(conn, data, frames, size)

    def _write_after(self, sub: Subscription, caches: list[FrameCache], wire: WireFrames) -> None:
        """The run's messages after ``sub.live_from``, encoded for this one subscriber."""
        conn = sub.conn
        frames = [c.encoded(conn.codec) for c in caches if c.message.seq > sub.live_from]
        if frames:
            data = wire.encode(frames, conn.codec, conn.batch)
            self._hand(conn, data, frames, sum(map(len, frames)))

    def _hand(self, conn: Subscriber, data: bytes, frames: list[bytes], size: int) -> None:
        try:
            conn.write_run(data, frames, size)
        except Exception as exc:  # one broken socket must not starve the others
            self._log.exception("ws.flush_failed", error=repr(exc))
