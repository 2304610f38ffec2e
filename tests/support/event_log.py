"""Lifecycle events as a test reads them: every event of ``HAWS_EVENTS``, kept in order."""

from __future__ import annotations

import asyncio
import contextlib

from nats.aio.client import Client as NatsClient

from haws.common.tasks import stop_task
from haws.server import EventFeed, LifecycleEvent


class EventLog:
    def __init__(self, nc: NatsClient) -> None:
        self._nc = nc
        self.events: list[LifecycleEvent] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._read())

    async def stop(self) -> None:
        await stop_task(self._task)

    async def __aenter__(self) -> EventLog:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _read(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            async for event in EventFeed(self._nc, start="all", wait=0.2):
                self.events.append(event)

    def of(self, session: str) -> list[LifecycleEvent]:
        return [e for e in self.events if e.session == session]

    def kinds(self, session: str) -> list[str]:
        """``type`` per event, with the reason or topic: ``disconnect:close``, ``join:t``."""
        out = []
        for e in self.of(session):
            detail = e.reason or (e.topic if e.type in ("join", "leave") else None)
            out.append(f"{e.type}:{detail}" if detail else e.type)
        return out
