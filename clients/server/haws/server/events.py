"""Lifecycle events from ``HAWS_EVENTS``, for a backend that keeps its own state.

Delivery is at least once: an event is acknowledged after the consumer's loop
body has run, so a crash re-delivers it, and a new presence leader may store
one again. Dedupe on ``id``; drop a ``disconnect`` whose ``epoch`` is below
the session's latest ``connect``/``resume`` (it arrived after the session
resumed elsewhere). Events of one session are in order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Literal

from nats.aio.client import Client as NatsClient
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from haws.protocol.lifecycle import LifecycleEvent
from haws.protocol.names import EVENTS_STREAM, events_subject


class EventFeed:
    """``async for event in EventFeed(nc, durable="online-users"): ...``

    With ``durable`` the position survives the backend's restart (the consumer
    lives in JetStream); without, each feed starts at ``start``.
    """

    def __init__(
        self,
        nc: NatsClient,
        *,
        durable: str | None = None,
        start: Literal["all", "new"] = "all",
        types: Iterable[str] | None = None,
        batch: int = 256,
        wait: float = 1.0,
    ) -> None:
        self._nc = nc
        self._durable = durable
        self._start = start
        self._types = set(types) if types is not None else None
        self._batch = batch
        self._wait = wait

    async def __aiter__(self) -> AsyncIterator[LifecycleEvent]:
        js = self._nc.jetstream()
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.ALL if self._start == "all" else DeliverPolicy.NEW,
            ack_policy=AckPolicy.EXPLICIT,
        )
        sub = await js.pull_subscribe(
            events_subject(">"), durable=self._durable, stream=EVENTS_STREAM, config=config
        )
        try:
            while True:
                try:
                    msgs = await sub.fetch(self._batch, timeout=self._wait)
                except (NatsTimeoutError, TimeoutError):
                    continue
                for msg in msgs:
                    event = LifecycleEvent.decode(msg.data)
                    if self._types is None or event.type in self._types:
                        yield event
                    await msg.ack()
        finally:
            await sub.unsubscribe()
