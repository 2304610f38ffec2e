"""A connection's subscription to one topic, and its catch-up from the stream.

Catch-up (``since`` or resume): the subscription is registered on the topic
first, so live messages are buffered while history after the cursor is read and
delivered; then the buffer is drained skipping what history already delivered,
and the subscription goes live with no await in between, so nothing slips.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TYPE_CHECKING

from haws.common import frames
from haws.common.messages import StoredMessage
from haws.common.stream_reader import MAX_BATCH
from haws.gateway.broker.replay_history import History
from haws.gateway.fanout.frame_cache import FrameCache, SharedFrames
from haws.gateway.fanout.recent_window import RecentMessages
from haws.gateway.sessions.fence import Fence

if TYPE_CHECKING:
    from haws.gateway.delivery.connection import Connection

STALE_READS = 3
STALE_READ_DELAY = 0.05
"""A history page short of what the node saw live is read again, this much later."""

MAX_BUFFERED = 10_000
"""Live messages held per catching-up subscription; beyond it they are re-read."""


class Subscription:
    __slots__ = ("buffer", "conn", "floor", "live", "presence", "seq", "task", "topic")

    def __init__(
        self,
        conn: Connection,
        topic: str,
        *,
        live: bool,
        presence: bool,
        seq: int,
        floor: int = 0,
    ) -> None:
        self.conn = conn
        self.topic = topic
        self.live = live
        self.presence = presence
        self.seq = seq
        """Last seq queued to the client while catching up (live: the topic's)."""
        self.floor = floor
        """The topic's last seq at registration: catch-up must deliver up to it."""
        self.buffer: list[StoredMessage] = []
        self.task: asyncio.Task[None] | None = None

    def hold(self, message: StoredMessage) -> None:
        """Buffer a live message while catching up; a full buffer is dropped and
        its messages are read from the stream instead."""
        if len(self.buffer) >= MAX_BUFFERED:
            self.buffer.clear()
        self.buffer.append(message)

    def cancel(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()


def _merge(gap: tuple[int, int] | None, more: tuple[int, int] | None) -> tuple[int, int] | None:
    if more is None:
        return gap
    if gap is None:
        return more
    return (min(gap[0], more[0]), max(gap[1], more[1]))


async def catch_up(
    sub: Subscription,
    after: int,
    history: History,
    *,
    room_timeout: float,
    fence: Fence | None = None,
    shared: SharedFrames | None = None,
    recent: RecentMessages | None = None,
) -> int:
    """Deliver everything after ``after``, then go live; returns stream pages read.

    Everything up to ``sub.floor`` (the topic's last seq when the subscription was
    registered) and up to the first buffered live message must be delivered.
    What the topic's ``recent`` window still holds comes from memory; older
    messages come from the stream, read only up to where the window starts.
    A page that falls short of that without a reported gap may be stale (a shared
    replay read that started earlier, a lagging stream replica): it is read again
    a few times before the shortfall is announced as lost to retention.
    """
    conn = sub.conn
    codec = conn.codec
    frames_of = shared.get if shared is not None else FrameCache
    last = after
    gap: tuple[int, int] | None = None
    pages = 0
    stale_reads = 0
    while True:
        pending = [m for m in sub.buffer if m.seq > last]
        until = pending[0].seq if pending and pending[0].prev > last else None
        if fence is not None:
            await fence.wait_open()
        batch = recent.after(last, MAX_BATCH) if recent is not None else None
        if batch is not None:
            more = len(batch) == MAX_BATCH
            page_gap = None
            if batch and batch[0].message.prev != last:
                # The cursor lies between two of the topic's seqs: prev names the cursor.
                batch[0] = frames_of(replace(batch[0].message, prev=last))
        else:
            start = recent.first_seq if recent is not None else None
            if start is not None and (until is None or start < until):
                until = start  # the rest is in memory: identical reads can be shared
            page = await history.read(sub.topic, last, until=until)
            pages += 1
            more, page_gap = page.more, page.gap
            gap = _merge(gap, page_gap)
            batch = [frames_of(m) for m in page.messages]
        for cache in batch:
            if not conn.queue.has_room():
                # Pace history by the client's reading, message by message: a page
                # may be larger than the whole send queue.
                sub.seq = last
                await conn.queue.room(room_timeout)
            if conn.closing:
                return pages
            conn.send(cache.encoded(codec))
            last = cache.message.seq
        sub.seq = last
        if conn.closing:
            return pages
        await conn.queue.room(room_timeout)
        if more:
            continue
        pending = [m for m in sub.buffer if m.seq > last]
        need = max(sub.floor, pending[0].prev if pending else 0)
        if last < need:
            if batch:
                stale_reads = 0
                continue  # progress: read on towards the buffer
            if page_gap is None and stale_reads < STALE_READS:
                stale_reads += 1
                await asyncio.sleep(STALE_READ_DELAY * stale_reads)
                continue
            # Read fresh and still nothing up to ``need``: retention dropped it.
            gap = _merge(gap, (last + 1, need))
            last = need
        # From here to ``live = True`` nothing awaits: no live message can slip between.
        for message in pending:
            conn.send(frames_of(message).encoded(codec))
        sub.buffer = []
        sub.live = True
        conn.send_obj(frames.recovered(sub.topic, gap))
        return pages
