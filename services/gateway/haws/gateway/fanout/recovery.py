"""The rules for reading a topic forward from the stream to a seq the node knows exists.

Both the live gap fill (a ``prev`` that skips ahead, a quiet topic behind the
stream) and a subscription's catch-up (``since``, resume) read pages after the
last seq they delivered until they reach ``need``. Three rules decide what a
page that falls short means:

- **floor**: a catch-up must reach at least the topic's last seq when the
  subscription was registered (``floor``) and the ``prev`` of the first live
  message it buffered; going live any earlier would skip what it never saw.
- **stale read**: a page that brings nothing new and reports no gap may be
  stale (a shared replay read that began earlier, a lagging stream replica):
  it is read again, a little later each time, ``STALE_READS`` times.
- **gap**: only then is the shortfall ``(last + 1, need)`` lost to retention,
  announced with ``recovered complete:false`` and never bridged silently.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Final

from haws.common.messages import StoredMessage

STALE_READS: Final = 3
STALE_READ_DELAY: Final = 0.05
"""A history page short of what the node saw live is read again, this much later
(times the number of the attempt)."""

Gap = tuple[int, int]


def need_of(floor: int, pending: list[StoredMessage]) -> int:
    """The seq a catch-up must reach before it goes live: its floor, and the
    ``prev`` of the first live message waiting behind it."""
    return max(floor, pending[0].prev if pending else 0)


def read_until(last: int, pending: list[StoredMessage]) -> int | None:
    """Where a catch-up read may stop: at the first waiting live message, when
    something lies between ``last`` and it (otherwise read to the end)."""
    return pending[0].seq if pending and pending[0].prev > last else None


def merge(gap: Gap | None, more: Gap | None) -> Gap | None:
    """One announced range covering both (a client learns of lost seqs once)."""
    if more is None:
        return gap
    if gap is None:
        return more
    return (min(gap[0], more[0]), max(gap[1], more[1]))


def rechained(message: StoredMessage, last: int) -> StoredMessage:
    """``message`` with ``prev`` naming what the client got last: after an announced
    gap, or a cursor between two of the topic's seqs, the chain stays unbroken."""
    return message if message.prev == last else replace(message, prev=last)


class ShortReads:
    """The stale-read rule over one read-forward, attempt by attempt."""

    __slots__ = ("_stale",)

    def __init__(self) -> None:
        self._stale = 0

    async def lost(self, last: int, need: int, *, progress: bool, gap_reported: bool) -> Gap | None:
        """After a page that left the reader at ``last < need``: ``None`` to read
        again (after a pause when the page brought nothing), else the range lost
        to retention, after which the reader goes on from ``need``.

        ``progress``: the page moved ``last`` forward. ``gap_reported``: the stream
        said the range is gone, so an empty page is an answer, not a stale one.
        """
        if progress:
            self._stale = 0
            return None
        if not gap_reported and self._stale < STALE_READS:
            self._stale += 1
            await asyncio.sleep(STALE_READ_DELAY * self._stale)
            return None
        return (last + 1, need)
