"""One way to connect to NATS for every service, with state reported to the caller.

The caller passes ``on_state`` to learn about disconnects and reconnects: the
gateway's readiness and its after-reconnect gap check hang off it.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from typing import Any, Literal

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
        inbox_prefix=settings.nats_inbox_prefix,
        **credentials(settings),
    )
    await report("connected")
    return nc


def tls_context(settings: NatsSettings) -> ssl.SSLContext | None:
    """Verify the servers against our CA and, with a client certificate, present it."""
    if not (settings.nats_tls_ca_file or settings.nats_tls_cert_file):
        return None
    context = ssl.create_default_context(cafile=settings.nats_tls_ca_file or None)
    if settings.nats_tls_cert_file:
        context.load_cert_chain(settings.nats_tls_cert_file, settings.nats_tls_key_file)
    return context


def credentials(settings: NatsSettings) -> dict[str, Any]:
    """nats.connect arguments for how this service logs in (none: anonymous, dev only)."""
    found: dict[str, Any] = {}
    if settings.nats_user:
        found.update(user=settings.nats_user, password=settings.nats_password)
    if settings.nats_creds_file:
        found["user_credentials"] = settings.nats_creds_file
    if settings.nats_nkey_seed_file:
        found["nkeys_seed"] = settings.nats_nkey_seed_file
    context = tls_context(settings)
    if context is not None:
        found["tls"] = context
    return found
