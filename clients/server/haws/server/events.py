"""Lifecycle events from ``HAWS_EVENTS``, for a backend that keeps its own state.

Delivery is at least once: an event is acknowledged after the consumer's loop
body has run, so a crash re-delivers it, and a new presence leader may store
one again. Dedupe on ``id``; drop a ``disconnect`` whose ``epoch`` is below
the session's latest ``connect``/``resume`` (it arrived after the session
resumed elsewhere). Events of one session are in order.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, fields
from typing import Any, Literal

from nats.aio.client import Client as NatsClient
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from haws.server.subjects import EVENTS_PREFIX, EVENTS_STREAM


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    id: str
    type: str
    """connect, resume, disconnect, join or leave."""
    session: str
    user: str | None
    node: str
    conn: str
    epoch: int
    ts: int
    reason: str | None = None
    """disconnect: close, takeover, drain, server, expired, node_dead or slow_consumer."""
    topic: str | None = None
    """join and leave."""
    previous_node: str | None = None
    """resume: the node the session was on."""

    @classmethod
    def decode(cls, raw: bytes) -> LifecycleEvent:
        body: Any = json.loads(raw)
        known = {f.name for f in fields(cls)}
        # Fields a newer server adds are ignored, not an error.
        return cls(**{k: v for k, v in body.items() if k in known})


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
            EVENTS_PREFIX + ">", durable=self._durable, stream=EVENTS_STREAM, config=config
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
