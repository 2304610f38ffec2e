"""History reads from the HAWS stream by start sequence and subject, batched.

Uses JetStream's batched direct get, which any stream replica answers without a
consumer: one request returns up to ``limit`` messages of one subject, then an
end-of-batch status. Replies of every read arrive on one wildcard inbox.
The replay service and the gateway's degraded path share this reader.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from haws.common import names
from haws.common.errors import StreamError
from haws.common.messages import StoredMessage

MAX_BATCH = 1000
MAX_BATCH_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """Messages of one topic after a cursor.

    ``gap`` is the seq range retention no longer holds, reported before
    ``messages``; ``more`` says a further read (after the last seq) has more.
    """

    messages: list[StoredMessage] = field(default_factory=list)
    more: bool = False
    gap: tuple[int, int] | None = None


class StreamReader:
    def __init__(self, nc: NatsClient, *, timeout: float, stream: str = names.STREAM) -> None:
        self._nc = nc
        self._timeout = timeout
        self._api = names.direct_get_subject(stream)
        self._prefix = nc.new_inbox()
        self._sub: Subscription | None = None
        self._waiting: dict[str, asyncio.Queue[Msg]] = {}
        self._counter = 0

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(self._prefix + ".*", cb=self._on_reply)

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None

    async def _on_reply(self, msg: Msg) -> None:
        queue = self._waiting.get(msg.subject)
        if queue is not None:
            queue.put_nowait(msg)

    async def _direct_get(self, request: dict[str, object]) -> list[Msg]:
        """All replies of one direct-get request, up to its end-of-batch."""
        if self._sub is None:
            raise StreamError("stream reader not started")
        self._counter += 1
        inbox = f"{self._prefix}.{self._counter}"
        queue: asyncio.Queue[Msg] = asyncio.Queue()
        self._waiting[inbox] = queue
        replies: list[Msg] = []
        try:
            await self._nc.publish(self._api, json.dumps(request).encode(), reply=inbox)
            batched = "batch" in request
            loop = asyncio.get_running_loop()
            try:
                # One timer for the whole batch, pushed back whenever we must wait: a
                # wait_for per message (a task each) cost more than the message.
                async with asyncio.timeout(self._timeout) as deadline:
                    while True:
                        if queue.empty():
                            deadline.reschedule(loop.time() + self._timeout)
                            msg = await queue.get()
                        else:
                            msg = queue.get_nowait()
                        status = (msg.headers or {}).get("Status")
                        if status == "404" or status == "204":
                            return replies
                        if status is not None:
                            raise StreamError(
                                f"direct get failed with status {status}: {msg.headers}"
                            )
                        replies.append(msg)
                        if not batched:
                            return replies
            except TimeoutError:
                raise StreamError(f"direct get timed out: {request}") from None
        finally:
            del self._waiting[inbox]

    async def last_seq(self, topic: str) -> int:
        """The topic's last stored sequence, 0 when it has none."""
        replies = await self._direct_get({"last_by_subj": names.topic_subject(topic)})
        if not replies:
            return 0
        return int((replies[0].headers or {})[names.HDR_SEQUENCE])

    async def read(
        self, topic: str, after: int, limit: int = MAX_BATCH, *, until: int | None = None
    ) -> HistoryPage:
        """Messages of ``topic`` with ``after < seq`` (``< until`` when given), in order.

        The read starts at the cursor itself: if the cursor's own message is still
        stored, nothing after it can have been removed (retention drops the oldest
        first) and the range is complete. If it is gone, the seqs between the cursor
        and the first retained message are reported as ``gap``.
        """
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
        gap: tuple[int, int] | None = None
        messages: list[StoredMessage] = []
        prev = after
        pending = 0
        for i, reply in enumerate(replies):
            headers = reply.headers or {}
            seq = int(headers[names.HDR_SEQUENCE])
            pending = int(headers.get("Nats-Num-Pending", 0))
            if seq <= after:
                continue  # the cursor's own message: proof that nothing after it was lost
            if i == 0 and after > 0 and seq > after + 1:
                gap = (after + 1, seq - 1)
            if until is not None and seq >= until:
                return HistoryPage(messages, more=False, gap=gap)
            if len(messages) == limit:
                return HistoryPage(messages, more=True, gap=gap)
            messages.append(StoredMessage.from_headers(topic, headers, reply.data, prev=prev))
            prev = seq
        if not replies and until is not None and after > 0 and until > after + 1:
            gap = (after + 1, until - 1)
        return HistoryPage(messages, more=pending > 0, gap=gap)
