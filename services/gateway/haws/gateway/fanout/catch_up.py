"""A subscription's catch-up from the stream (``since`` or resume), then live.

The subscription is registered on the topic first, so live messages are
buffered while history after the cursor is read and delivered; then the buffer
is drained skipping what history already delivered, and the subscription goes
live with no await in between, so nothing slips. When to read again and when a
shortfall is a gap is ``recovery``'s to say.

While one stream page is encoded and written the next is already being read
(``ReadAhead``): where the replay service and NATS have cores of their own,
their work overlaps this node's. At most one page is read ahead, and only
after a full page, so a slow reader still holds one page plus its queue.
"""

from __future__ import annotations

import asyncio

from haws.common import frames
from haws.common.stream_reader import MAX_BATCH, HistoryPage
from haws.gateway.broker.seams import History
from haws.gateway.fanout import recovery
from haws.gateway.fanout.frame_cache import FrameCache, SharedFrames
from haws.gateway.fanout.recent_window import RecentMessages
from haws.gateway.fanout.subscription import Subscription
from haws.gateway.sessions.fence import Fence


class ReadAhead:
    """The next page's read, started before the current page is delivered.

    Used only if the next read asks for exactly this range (a live message that
    arrived meanwhile can move ``until``); otherwise its result is dropped. It is
    left to finish rather than cancelled: a shared read (``Coalescer``) would
    hand its cancellation to every other reader of the same range.
    """

    __slots__ = ("after", "task", "until")

    def __init__(self, history: History, topic: str, after: int, until: int | None) -> None:
        self.after = after
        self.until = until
        self.task = asyncio.create_task(history.read(topic, after, until=until))

    async def under_way(self) -> None:
        """Let the read reach the wire before this page's encoding holds the loop:
        the task's first step makes the request, and nats-py's flusher task sends
        it one loop iteration later. Without this the request would leave only
        once the whole current page was encoded, and nothing would overlap."""
        for _ in range(2):
            await asyncio.sleep(0)

    async def take(self, after: int, until: int | None) -> HistoryPage | None:
        """The page read ahead if it is the one wanted (None if not, once it ended)."""
        if (after, until) == (self.after, self.until):
            return await self.task
        await self.close()
        return None

    async def close(self) -> None:
        """Wait for the read to end and drop it; cancel it only if we are cancelled."""
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            self.task.cancel()
        try:
            await asyncio.wait((self.task,))
        except asyncio.CancelledError:
            self.task.cancel()
            raise
        if not self.task.cancelled():
            self.task.exception()  # retrieved: a dropped read's failure is not ours


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

    What the topic's ``recent`` window still holds comes from memory; older
    messages come from the stream, read only up to where the window starts.
    """
    conn = sub.conn
    codec = conn.codec
    frames_of = shared.get if shared is not None else FrameCache
    last = after
    gap: recovery.Gap | None = None
    pages = 0
    short = recovery.ShortReads()
    ahead: ReadAhead | None = None
    try:
        while True:
            until = recovery.read_until(last, [m for m in sub.buffer if m.seq > last])
            if fence is not None:
                await fence.wait_open()
            batch = recent.after(last, MAX_BATCH) if recent is not None else None
            if batch is not None:
                if ahead is not None:  # the window caught up with the stream read
                    await ahead.close()
                    ahead = None
                more = len(batch) == MAX_BATCH
                page_gap = None
                if batch and batch[0].message.prev != last:
                    # The cursor lies between two of the topic's seqs: prev names the cursor.
                    batch[0] = frames_of(recovery.rechained(batch[0].message, last))
            else:
                start = recent.first_seq if recent is not None else None
                if start is not None and (until is None or start < until):
                    until = start  # the rest is in memory: identical reads can be shared
                page = await ahead.take(last, until) if ahead is not None else None
                ahead = None
                if page is None:
                    page = await history.read(sub.topic, last, until=until)
                pages += 1
                if page.more and page.messages:
                    ahead = ReadAhead(history, sub.topic, page.messages[-1].seq, until)
                    await ahead.under_way()
                more, page_gap = page.more, page.gap
                gap = recovery.merge(gap, page_gap)
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
            need = recovery.need_of(sub.floor, pending)
            if last < need:
                lost = await short.lost(
                    last, need, progress=bool(batch), gap_reported=page_gap is not None
                )
                if lost is None:
                    continue
                gap = recovery.merge(gap, lost)
                last = need
            # From here to going live nothing awaits: no live message can slip between.
            for message in pending:
                conn.send(frames_of(message).encoded(codec))
            sub.go_live()
            conn.send_obj(frames.recovered(sub.topic, gap))
            return pages
    finally:
        if ahead is not None:
            await ahead.close()
