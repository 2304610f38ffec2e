"""A NATS client that reconnects at once and for ever, and says when it did: for
tests that restart their nats-server under it."""

from __future__ import annotations

import asyncio

import nats
from nats.aio.client import Client as NatsClient


async def reconnecting_client(url: str) -> tuple[NatsClient, asyncio.Event]:
    """The client, and an event set at each reconnect (clear it before a restart)."""
    reconnected = asyncio.Event()

    async def on_reconnect() -> None:
        reconnected.set()

    nc = await nats.connect(
        url, reconnected_cb=on_reconnect, reconnect_time_wait=0.1, max_reconnect_attempts=-1
    )
    return nc, reconnected
