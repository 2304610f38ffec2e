"""Server API fixtures: a real API replica, presence replica and gateways on real
nats-server and Consul processes, and a raw HTTP caller."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from haws.api.node import ApiNode, run_api
from haws.api.settings import ApiSettings
from haws.presence.node import PresenceNode, run_presence
from tests.integration.presence.presence_support import presence_settings
from tests.support.api_caller import ApiCaller
from tests.support.service_runner import running_service
from tests.support.waiting import eventually

KEY = "test-key-current"
OLD_KEY = "test-key-previous"
READ_KEY = "test-key-read-only"

StartApi = Callable[..., contextlib.AbstractAsyncContextManager[ApiNode]]


def api_settings(nats_url: str, consul_http: str, **overrides: Any) -> ApiSettings:
    values: dict[str, Any] = {
        "nats_url": (nats_url,),
        "consul_http": consul_http,
        "http_port": 0,
        "api_keys": (KEY, OLD_KEY),
        "api_read_keys": (READ_KEY,),
        "disconnect_wait": 2.0,
    }
    values.update(overrides)
    return ApiSettings(**values)


@pytest.fixture
def start_api(shared_nats: Any, consul_agent: Any) -> StartApi:
    @contextlib.asynccontextmanager
    async def start(nats_url: str | None = None, **overrides: Any) -> AsyncIterator[ApiNode]:
        settings = api_settings(nats_url or shared_nats.url, consul_agent.http_url, **overrides)
        async with running_service(run_api, settings) as service:
            yield service.value

    return start


@pytest.fixture
async def api(start_api: StartApi) -> AsyncIterator[ApiNode]:
    async with start_api() as node:
        yield node


@pytest.fixture
async def presence(shared_nats: Any) -> AsyncIterator[PresenceNode]:
    # A long grace: a session closed and resumed in a test must not expire in between
    # on a loaded machine (it would come back as a new ``connect``).
    settings = presence_settings(shared_nats.url, grace=10.0)
    async with running_service(run_presence, settings) as service:
        node: PresenceNode = service.value
        await eventually(lambda: node.leadership.leading, message="presence leads")
        yield node


@pytest.fixture
async def http(api: ApiNode) -> AsyncIterator[ApiCaller]:
    async with aiohttp.ClientSession() as session:
        yield ApiCaller(session, api.url, KEY)


@pytest.fixture
def user() -> str:
    return f"u-{uuid.uuid4().hex[:8]}"
