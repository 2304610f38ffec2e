"""History reads from the HAWS stream by start sequence and subject, batched.

Uses JetStream's batched direct get, which any stream replica answers without a
consumer: one request returns up to ``limit`` messages of one subject, then an
end-of-batch status. Replies of every read arrive on one wildcard inbox.
The replay service and the gateway's degraded path share this reader.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from nats.aio.client import Client as NatsClient

from haws.common import names
from haws.common.errors import StreamError
from haws.common.messages import SEQUENCE_KEY, StoredMessage
from haws.common.raw_replies import RawSubscription, header, header_key, status, subscribe_raw

R = TypeVar("R")
T = TypeVar("T")

MAX_BATCH = 1000
MAX_BATCH_BYTES = 1 << 20

_PENDING_KEY = header_key("Nats-Num-Pending")


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """Messages of one topic after a cursor.

    ``gap`` is the seq range retention no longer holds, reported before
    ``messages``; ``more`` says a further read (after the last seq) has more.
    """

    messages: list[StoredMessage] = field(default_factory=list)
    more: bool = False
    gap: tuple[int, int] | None = None


class _Batch:
    """Replies of one direct-get request as they arrive; ``done`` at its end."""

    __slots__ = ("batched", "done", "replies", "status")

    def __init__(self, batched: bool) -> None:
        self.batched = batched
        self.replies: list[tuple[bytes, bytes]] = []
        self.status: bytes | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def add(self, block: bytes | None, data: bytes) -> None:
        if self.done.done():
            return
        code = status(block)
        if code is not None:
            self.status = code
            self.done.set_result(None)
            return
        self.replies.append((block or b"", data))
        if not self.batched:
            self.done.set_result(None)


class StreamReader:
    def __init__(self, nc: NatsClient, *, timeout: float, stream: str = names.STREAM) -> None:
        self._nc = nc
        self._timeout = timeout
        self._api = names.direct_get_subject(stream)
        self._prefix = nc.new_inbox()
        self._sub: RawSubscription | None = None
        self._waiting: dict[bytes, _Batch] = {}
        self._counter = 0

    async def start(self) -> None:
        self._sub = await subscribe_raw(self._nc, self._prefix + ".*", self._on_reply)

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.stop()
            self._sub = None

    def _on_reply(self, subject: bytes, block: bytes | None, data: bytes) -> None:
        batch = self._waiting.get(subject)
        if batch is not None:
            batch.add(block, data)

    async def _direct_get(self, request: dict[str, object]) -> list[tuple[bytes, bytes]]:
        """(header block, payload) of every reply of one direct-get request, up to its
        end-of-batch."""
        if self._sub is None:
            raise StreamError("stream reader not started")
        self._counter += 1
        inbox = f"{self._prefix}.{self._counter}"
        batch = _Batch("batch" in request)
        key = inbox.encode()
        self._waiting[key] = batch
        try:
            await self._nc.publish(self._api, json.dumps(request).encode(), reply=inbox)
            # The timeout counts from the last reply: a long batch still arriving is
            # not late. One wait per batch, not one wake-up per message.
            while not batch.done.done():
                seen = len(batch.replies)
                await asyncio.wait((batch.done,), timeout=self._timeout)
                if not batch.done.done() and len(batch.replies) == seen:
                    raise StreamError(f"direct get timed out: {request}")
        finally:
            del self._waiting[key]
            if not batch.done.done():
                batch.done.cancel()
        if batch.status is not None and batch.status not in (b"404", b"204"):
            raise StreamError(f"direct get failed with status {batch.status.decode()}")
        return batch.replies

    async def last_seq(self, topic: str) -> int:
        """The topic's last stored sequence, 0 when it has none."""
        replies = await self._direct_get({"last_by_subj": names.topic_subject(topic)})
        if not replies:
            return 0
        return _seq_of(replies[0][0])

    async def next_seq(self, topic: str, after: int) -> int | None:
        """The seq of the topic's first stored message past ``after``, None if none yet."""
        replies = await self._direct_get(
            {"seq": after + 1, "next_by_subj": names.topic_subject(topic)}
        )
        return _seq_of(replies[0][0]) if replies else None

    async def read(
        self, topic: str, after: int, limit: int = MAX_BATCH, *, until: int | None = None
    ) -> HistoryPage:
        """Messages of ``topic`` with ``after < seq`` (``< until`` when given), in order.

        The read starts at the cursor itself, so ``page_of`` can tell a complete
        range from one retention cut.
        """

        def build(block: bytes, data: bytes, seq: int, prev: int) -> StoredMessage:
            return StoredMessage.from_header_block(topic, block, data, seq, prev)

        messages, more, gap = await self.read_as(topic, after, limit, build, until=until)
        return HistoryPage(messages, more=more, gap=gap)

    async def read_as(
        self,
        topic: str,
        after: int,
        limit: int,
        build: Callable[[bytes, bytes, int, int], T],
        *,
        until: int | None = None,
    ) -> tuple[list[T], bool, tuple[int, int] | None]:
        """``read``, each message made by ``build(header block, payload, seq, prev)``:
        the replay service goes from the stream's bytes straight to its reply's rows,
        without a ``StoredMessage`` in between. Returns (items, more, gap)."""
        limit = max(1, min(limit, MAX_BATCH))
        subject = names.topic_subject(topic)
        start = max(after, 1)
        replies = await self._direct_get(
            {
                "seq": start,
                "next_by_subj": subject,
                "batch": limit + 1,
                "max_bytes": MAX_BATCH_BYTES,
            }
        )
        pending = header(replies[-1][0], _PENDING_KEY) if replies else None
        return items_of(
            replies,
            after=after,
            limit=limit,
            until=until,
            seq_of=lambda reply: _seq_of(reply[0]),
            item_of=lambda reply, seq, prev: build(reply[0], reply[1], seq, prev),
            more_beyond=int(pending or 0) > 0,
        )


def page_of(
    replies: Sequence[R],
    *,
    after: int,
    limit: int,
    until: int | None,
    seq_of: Callable[[R], int],
    message_of: Callable[[R, int, int], StoredMessage],
    more_beyond: bool,
) -> HistoryPage:
    """The page of a read from ``replies``: the store's first ``limit + 1`` messages of
    the topic at or after the cursor ``after``, in order (``items_of``'s rules).
    One function for the stream and the in-memory broker, so both answer alike."""
    messages, more, gap = items_of(
        replies,
        after=after,
        limit=limit,
        until=until,
        seq_of=seq_of,
        item_of=message_of,
        more_beyond=more_beyond,
    )
    return HistoryPage(messages, more=more, gap=gap)


def items_of(
    replies: Sequence[R],
    *,
    after: int,
    limit: int,
    until: int | None,
    seq_of: Callable[[R], int],
    item_of: Callable[[R, int, int], T],
    more_beyond: bool,
) -> tuple[list[T], bool, tuple[int, int] | None]:
    """(items, more, gap) of a read from ``replies``, each item ``item_of(reply, seq, prev)``.

    If the cursor's own message is still stored, nothing after it can have been
    removed (retention drops the oldest first) and the range is complete. If it is
    gone, the seqs between the cursor and the first retained message are the
    ``gap``. ``more_beyond`` says the store holds messages past the last reply.
    """
    gap: tuple[int, int] | None = None
    items: list[T] = []
    prev = after
    for i, reply in enumerate(replies):
        seq = seq_of(reply)
        if seq <= after:
            continue  # the cursor's own message: proof that nothing after it was lost
        if i == 0 and after > 0 and seq > after + 1:
            gap = (after + 1, seq - 1)
        if until is not None and seq >= until:
            return items, False, gap
        if len(items) == limit:
            return items, True, gap
        items.append(item_of(reply, seq, prev))
        prev = seq
    if not replies and until is not None and after > 0 and until > after + 1:
        gap = (after + 1, until - 1)
    return items, more_beyond, gap


def _seq_of(block: bytes) -> int:
    seq = header(block, SEQUENCE_KEY)
    if seq is None:
        raise StreamError("direct get reply without a sequence")
    return int(seq)
