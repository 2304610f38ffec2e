"""Gateway fixtures: real gateways on real nats-server and Consul processes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NatsClient

from haws.common.settings import NatsSettings
from haws.common.streams import ensure_stream
from tests.support.client_pool import ClientPool
from tests.support.gateway_runner import RunningGateway, gateway_settings, running_gateway
from tests.support.ws_client import WsClient

Connect = Callable[..., Awaitable[WsClient]]


@pytest.fixture
def topic() -> str:
    return f"t.{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def nc(shared_nats: Any) -> AsyncIterator[NatsClient]:
    """A client of the test's own on the shared server, to look at what gateways stored."""
    client = await nats.connect(shared_nats.url)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def own_nc(nats_server: Any) -> AsyncIterator[NatsClient]:
    """A client of the test's own nats-server (which the test may kill or restart)."""
    client = await nats.connect(nats_server.url)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def stream_declared(nc: NatsClient, shared_nats: Any) -> None:
    """The HAWS stream, declared: for tests that write or read it before any service has."""
    await ensure_stream(nc.jetstream(), NatsSettings(nats_url=(shared_nats.url,)))


@pytest.fixture
async def gateway(shared_nats: Any, consul_agent: Any) -> AsyncIterator[RunningGateway]:
    async with running_gateway(gateway_settings(shared_nats.url, consul_agent.http_url)) as gw:
        yield gw


@pytest.fixture
async def gateway2(shared_nats: Any, consul_agent: Any) -> AsyncIterator[RunningGateway]:
    async with running_gateway(gateway_settings(shared_nats.url, consul_agent.http_url)) as gw:
        yield gw


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    """Open clients (``hello`` optional); every one is closed at the end of the test."""
    async with ClientPool() as pool:

        async def open_client(url: str, *, hello: bool = True, **kwargs: Any) -> WsClient:
            client = await pool.connect(url, protocol=kwargs.pop("protocol", None))
            if hello:
                await client.hello(**kwargs)
            return client

        yield open_client
