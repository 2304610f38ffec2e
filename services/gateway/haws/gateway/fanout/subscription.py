"""A connection's subscription to one topic: live, or catching up behind a buffer.

While it catches up (``since`` or resume, see ``catch_up``) live messages wait
in its buffer; once history has reached them it goes live and the topic hands
it every message directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from haws.common.messages import StoredMessage
from haws.gateway.fanout.subscriber import Subscriber

MAX_BUFFERED = 10_000
"""Live messages held per catching-up subscription; beyond it they are re-read."""


class Subscription:
    __slots__ = (
        "_watcher",
        "buffer",
        "conn",
        "floor",
        "live",
        "live_from",
        "presence",
        "seq",
        "task",
        "topic",
    )

    def __init__(
        self,
        conn: Subscriber,
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
        """The topic delivers to it directly (else into ``buffer``)."""
        self.presence = presence
        self.seq = seq
        """Last seq queued to the client while catching up (live: the topic's)."""
        self.floor = floor
        """The topic's last seq at registration: catch-up must deliver up to it."""
        self.live_from = 0
        """The topic's last seq when it last joined the live set: the messages of a
        pending shared run up to it are not its (``Members``)."""
        self.buffer: list[StoredMessage] = []
        self.task: asyncio.Task[None] | None = None
        """The catch-up delivering history to it, owned by the hub."""
        self._watcher: Callable[[Subscription, bool], None] | None = None
        """Told before ``live`` changes (the topic's ``Members``: its shared run must
        not reach a subscription that went live or stopped after the run began)."""

    def watch(self, watcher: Callable[[Subscription, bool], None] | None) -> None:
        self._watcher = watcher

    def hold(self, message: StoredMessage) -> None:
        """Buffer a live message while catching up; a full buffer is dropped and
        its messages are read from the stream instead."""
        if len(self.buffer) >= MAX_BUFFERED:
            self.buffer.clear()
        self.buffer.append(message)

    def go_live(self) -> None:
        """Drop the buffer (its caller delivered what it needed) and receive live
        messages directly from now on."""
        if not self.live and self._watcher is not None:
            self._watcher(self, True)
        self.buffer = []
        self.live = True

    def stop_delivery(self) -> None:
        """Deliver nothing more to this connection (its session moved elsewhere)."""
        if self.live and self._watcher is not None:
            self._watcher(self, False)
        self.live = False

    def cancel(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
