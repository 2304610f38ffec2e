"""Security fixtures: gateways with security settings, raw clients, tokens."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from haws.common.tokens import make_dev_token
from tests.support.client_pool import ClientPool
from tests.support.gateway_runner import RunningGateway, gateway_settings, running_gateway
from tests.support.ws_client import WsClient
from tests.unit.security import keypairs as kp

AUDIENCE = "haws-test"
StartGateway = Callable[..., contextlib.AbstractAsyncContextManager[RunningGateway]]
OpenWs = Callable[..., Awaitable[WsClient]]


def token(
    user: str = "alice",
    sub: Sequence[str] = (">",),
    pub: Sequence[str] = (">",),
    ttl: float = 60.0,
    audience: str = AUDIENCE,
) -> str:
    return make_dev_token(kp.SECRET, user, sub, pub, ttl, audience=audience)


@pytest.fixture
def gateway_with(shared_nats: Any, consul_agent: Any) -> StartGateway:
    """``async with gateway_with(setting=value) as gw``: a gateway with overrides."""

    def start(**overrides: Any) -> contextlib.AbstractAsyncContextManager[RunningGateway]:
        return running_gateway(
            gateway_settings(shared_nats.url, consul_agent.http_url, **overrides)
        )

    return start


@pytest.fixture(scope="session")
def rsa_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "rsa.pem"
    path.write_bytes(kp.public_pem(kp.rsa_key()))
    return path


def jwt_settings(rsa_key_file: Path, **overrides: Any) -> dict[str, Any]:
    return {
        "auth_mode": "jwt",
        "auth_hs256_secret": kp.SECRET,
        "auth_public_key_file": str(rsa_key_file),
        "auth_audience": AUDIENCE,
        "auth_expiry_grace": 0.3,
        **overrides,
    }


@pytest.fixture
async def jwt_gateway(
    gateway_with: StartGateway, rsa_key_file: Path
) -> AsyncIterator[RunningGateway]:
    async with gateway_with(**jwt_settings(rsa_key_file)) as gw:
        yield gw


@pytest.fixture
async def open_ws() -> AsyncIterator[OpenWs]:
    """Raw clients with connect options (headers, ssl, compress); closed at the end."""
    async with ClientPool() as pool:
        yield pool.connect


async def hello_refused(client: WsClient, **hello: Any) -> int | None:
    """Send ``hello`` and return the close code the gateway answers with."""
    await client.send({"op": "hello", "v": 1, **hello})
    return await client.wait_closed(timeout=5)
