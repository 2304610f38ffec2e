"""Which iterator gets a message: the topic's own iterators, else the shared inbox.

``Client.messages()`` reads the shared inbox, which exists from the start, so a
message that arrives before the application opened any iterator waits there
instead of being lost. ``Client.subscription(topic)`` opens an iterator of its
own for one topic: while at least one is open for a topic, each of them gets
every message of that topic and the shared inbox gets none of them.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from haws.client.inbox import Inbox
from haws.client.types import Message


class MessageStream:
    """An async iterator of messages; ``close()`` (or leaving ``with``) detaches it."""

    def __init__(self, router: Router, inbox: Inbox[Message], topic: str | None) -> None:
        self._router = router
        self.inbox = inbox
        self.topic = topic
        """The topic of a per-topic iterator; ``None`` for ``messages()``."""

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Message:
        return await self.inbox.get()

    def __len__(self) -> int:
        """Messages queued and not yet read."""
        return len(self.inbox)

    def close(self) -> None:
        """Detach a per-topic iterator (its topic falls back to the shared inbox).

        For ``messages()`` it does nothing: the shared inbox lives as long as the client.
        """
        if self.topic is not None:
            self._router.detach(self)
            self.inbox.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Router:
    def __init__(self, queue_size: int) -> None:
        self._queue_size = queue_size
        self._shared: Inbox[Message] = Inbox(queue_size)
        self._by_topic: dict[str, list[MessageStream]] = {}
        self.stalled = False
        """True while delivery waits for the application to make room."""

    def messages(self) -> MessageStream:
        return MessageStream(self, self._shared, None)

    def subscription(self, topic: str) -> MessageStream:
        inbox: Inbox[Message] = Inbox(self._queue_size)
        if self._shared.closed:
            inbox.close()
        stream = MessageStream(self, inbox, topic)
        self._by_topic.setdefault(topic, []).append(stream)
        return stream

    def detach(self, stream: MessageStream) -> None:
        if stream.topic is None:
            return
        streams = self._by_topic.get(stream.topic, [])
        if stream in streams:
            streams.remove(stream)
        if not streams:
            self._by_topic.pop(stream.topic, None)

    async def deliver(self, message: Message) -> None:
        """Hand ``message`` to its iterators, waiting while one of them is full."""
        delivered = False
        for stream in list(self._by_topic.get(message.topic, ())):
            delivered |= await self._put(stream.inbox, message)
        if not delivered:
            await self._put(self._shared, message)

    async def _put(self, inbox: Inbox[Message], message: Message) -> bool:
        if not inbox.full():
            return inbox.put_nowait(message)
        self.stalled = True
        try:
            return await inbox.put(message)
        finally:
            self.stalled = False

    def close(self, error: BaseException | None = None) -> None:
        """End every iterator once it has read what is queued (then raise ``error``)."""
        self._shared.close(error)
        for streams in self._by_topic.values():
            for stream in streams:
                stream.inbox.close(error)
