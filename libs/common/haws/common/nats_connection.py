"""One way to connect to NATS for every service, with state reported to the caller.

The caller passes ``on_state`` to learn about disconnects and reconnects: the
gateway's readiness and its after-reconnect gap check hang off it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

import nats
from nats.aio.client import Client as NatsClient

from haws.common.logs import get_logger
from haws.common.settings import NatsSettings

NatsState = Literal["connected", "disconnected", "reconnected", "closed"]
StateCallback = Callable[[NatsState], Awaitable[None]]


async def connect(
    settings: NatsSettings,
    *,
    name: str,
    on_state: StateCallback | None = None,
) -> NatsClient:
    log = get_logger("nats", client=name)

    async def report(state: NatsState) -> None:
        log.info("nats." + state)
        if on_state is not None:
            await on_state(state)

    async def disconnected() -> None:
        await report("disconnected")

    async def reconnected() -> None:
        await report("reconnected")

    async def closed() -> None:
        await report("closed")

    async def error(exc: Exception) -> None:
        log.warning("nats.error", error=repr(exc))

    nc = await nats.connect(
        servers=list(settings.nats_url),
        name=name,
        connect_timeout=settings.nats_connect_timeout,
        max_reconnect_attempts=settings.nats_max_reconnect,
        reconnect_time_wait=0.25,
        ping_interval=5,
        max_outstanding_pings=2,
        allow_reconnect=True,
        disconnected_cb=disconnected,
        reconnected_cb=reconnected,
        closed_cb=closed,
        error_cb=error,
        pending_size=64 * 1024 * 1024,
    )
    await report("connected")
    return nc
