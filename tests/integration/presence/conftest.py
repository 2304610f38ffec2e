"""Presence fixtures: a replica in this event loop, simulated gateways, a recorder."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from haws.presence.node import PresenceNode, run_presence
from tests.integration.presence.presence_support import GatewayDouble, Recorder, presence_settings
from tests.support.service_runner import running_service


@pytest.fixture
def session_id() -> str:
    return f"s-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def recorder(nc: NatsClient) -> Recorder:
    rec = Recorder()
    await rec.start(nc)
    return rec


@pytest.fixture
async def presence(shared_nats: Any) -> AsyncIterator[PresenceNode]:
    async with running_service(run_presence, presence_settings(shared_nats.url)) as service:
        yield service.value


@pytest.fixture
def gw1(nc: NatsClient) -> GatewayDouble:
    return GatewayDouble(nc)


@pytest.fixture
def gw2(nc: NatsClient) -> GatewayDouble:
    return GatewayDouble(nc)
