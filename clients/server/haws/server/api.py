"""``ServerApi``: every server API method as a coroutine, over either door."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client as NatsClient

from haws.server.http_transport import HttpTransport
from haws.server.nats_transport import NatsTransport
from haws.server.transport import Transport


@dataclass(frozen=True, slots=True)
class Stored:
    """A publish's answer: the topic's ``seq``; ``dup`` when ``mid`` was stored before."""

    seq: int
    dup: bool


class ServerApi:
    """``async with ServerApi.http(url, key) as api: await api.publish("chat.lobby", "hi")``."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    @classmethod
    def http(cls, base_url: str, key: str, *, timeout: float = 10.0) -> ServerApi:
        return cls(HttpTransport(base_url, key, timeout=timeout))

    @classmethod
    def nats(cls, nc: NatsClient, *, timeout: float = 5.0) -> ServerApi:
        return cls(NatsTransport(nc, timeout=timeout))

    async def __aenter__(self) -> ServerApi:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._transport.close()

    async def call(self, method: str, **fields: Any) -> dict[str, Any]:
        """Any method by name; fields that are None are left out."""
        body = {k: v for k, v in fields.items() if v is not None}
        return await self._transport.call(method, body)

    async def publish(
        self, topic: str, data: Any, *, mid: str | None = None, expect_seq: int | None = None
    ) -> Stored:
        """Stored before it returns; retry with the same ``mid`` after an ``unavailable``."""
        answer = await self.call("publish", topic=topic, data=data, mid=mid, expect_seq=expect_seq)
        return Stored(int(answer["seq"]), bool(answer["dup"]))

    async def broadcast(
        self, topics: Sequence[str], data: Any, *, mid: str | None = None
    ) -> list[dict[str, Any]]:
        """A result per topic: ``{"topic", "seq", "dup"}`` or ``{"topic", "error"}``."""
        answer = await self.call("broadcast", topics=list(topics), data=data, mid=mid)
        return list(answer["results"])

    async def presence(self, topic: str) -> list[dict[str, Any]]:
        return list((await self.call("presence", topic=topic))["members"])

    async def presence_stats(self, topic: str) -> dict[str, Any]:
        return await self.call("presence_stats", topic=topic)

    async def history(self, topic: str, *, since: int = 0, limit: int = 100) -> dict[str, Any]:
        return await self.call("history", topic=topic, since=since, limit=limit)

    async def disconnect(
        self,
        *,
        user: str | None = None,
        session: str | None = None,
        code: int | None = None,
        reason: str | None = None,
        reconnect: bool = True,
    ) -> dict[str, Any]:
        """Close a user's or a session's connections everywhere; ``reconnect=False`` ends it."""
        return await self.call(
            "disconnect", user=user, session=session, code=code, reason=reason, reconnect=reconnect
        )

    async def info(self) -> dict[str, Any]:
        return await self.call("info")
