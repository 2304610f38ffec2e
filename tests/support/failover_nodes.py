"""Two real gateway processes and a leading presence node: the bed of the e2e tests
that kill or freeze one gateway and watch what happens to its sessions."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from haws.cluster import ConsulAgent, Gateway, NatsServer
from haws.presence.node import PresenceNode, run_presence
from tests.integration.presence.presence_support import presence_settings
from tests.support.service_runner import running_service
from tests.support.waiting import eventually

GatewayPair = tuple[Gateway, Gateway]

STOP_TIMEOUT = 5.0
"""Seconds a gateway gets to drain on SIGTERM before SIGKILL, at teardown."""


@contextlib.asynccontextmanager
async def gateway_pair(
    data_dir: Path,
    nats: NatsServer,
    consul: ConsulAgent,
    extra_args: Sequence[str],
    names: tuple[str, str] = ("doomed", "survivor"),
) -> AsyncIterator[GatewayPair]:
    """Two gateways on ``nats`` and ``consul`` (the session fixtures ``shared_nats``,
    ``consul_agent``), started together, both stopped afterwards whatever the test did.

    Names get a fresh suffix, so a node a previous test killed is never mistaken
    for one of these in Consul or in presence. A paused node is resumed by its
    stop, and one that failed to start does not leave the other running.
    """
    suffix = uuid.uuid4().hex[:6]

    def gateway(name: str) -> Gateway:
        return Gateway(
            data_dir,
            name=f"{name}-{suffix}",
            nats_url=nats.url,
            consul_http=consul.http_url,
            extra_args=extra_args,
        )

    pair = (gateway(names[0]), gateway(names[1]))
    try:
        started = await asyncio.gather(
            *(asyncio.to_thread(g.start) for g in pair), return_exceptions=True
        )
        for outcome in started:
            if isinstance(outcome, BaseException):
                raise outcome
        yield pair
    finally:
        await asyncio.gather(*(asyncio.to_thread(g.stop, STOP_TIMEOUT) for g in pair))


@contextlib.asynccontextmanager
async def leading_presence(
    nats: NatsServer, heartbeat_timeout: float, grace: float
) -> AsyncIterator[PresenceNode]:
    """One presence replica in the test's loop, yielded once it leads (so it stores
    lifecycle events and declares nodes dead from the test's first step)."""
    settings = presence_settings(nats.url, heartbeat_timeout=heartbeat_timeout, grace=grace)
    async with running_service(run_presence, settings) as service:
        node: PresenceNode = service.value
        await eventually(lambda: node.leadership.leading, message="presence leads")
        yield node
