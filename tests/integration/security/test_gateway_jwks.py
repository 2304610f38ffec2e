"""Keys from a JWKS URL (a real HTTP server here): rotation is picked up on the
new ``kid``, and made-up ``kid``s do not turn into a fetch each."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from haws.common.health_http import bound_port
from tests.integration.conftest import Connect
from tests.integration.security.conftest import AUDIENCE, StartGateway, hello_refused
from tests.unit.security import keypairs as kp

pytestmark = pytest.mark.integration


@dataclass
class Idp:
    url: str
    keys: list[dict[str, Any]] = field(default_factory=list)
    fetches: int = 0


@pytest.fixture
async def idp() -> AsyncIterator[Idp]:
    state = Idp("")

    async def jwks(_: web.Request) -> web.Response:
        state.fetches += 1
        return web.json_response({"keys": state.keys})

    app = web.Application()
    app.router.add_get("/jwks", jwks)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    state.url = f"http://127.0.0.1:{bound_port(runner)}/jwks"
    try:
        yield state
    finally:
        await runner.cleanup()


def jwks_settings(idp: Idp, *, refetch_interval: float) -> dict[str, Any]:
    """A gateway that takes RS256 tokens for ``AUDIENCE`` checked against ``idp``'s keys."""
    return {
        "auth_mode": "jwt",
        "auth_jwks_url": idp.url,
        "auth_audience": AUDIENCE,
        "auth_jwks_refetch_interval": refetch_interval,
    }


def signed(user: str, kid: str, key_name: str) -> str:
    body = {**kp.claims(user, aud=AUDIENCE), **kp.grants([">"], [">"])}
    return kp.rs256(body, key=kp.rsa_key(key_name), kid=kid)


async def test_rotated_key_is_fetched_on_its_new_kid(
    gateway_with: StartGateway, idp: Idp, connect: Connect
) -> None:
    idp.keys = [kp.jwk(kp.rsa_key("k1"), "k1")]
    async with gateway_with(**jwks_settings(idp, refetch_interval=0.0)) as gw:
        assert idp.fetches == 1  # fetched at start
        assert (await connect(gw.url, token=signed("alice", "k1", "k1"))).others[0]["op"] == (
            "welcome"
        )
        idp.keys = [kp.jwk(kp.rsa_key("k2"), "k2")]  # the provider rotates
        assert (await connect(gw.url, token=signed("bob", "k2", "k2"))).others[0]["op"] == (
            "welcome"
        )
        assert idp.fetches == 2
        # k1 left the set: its tokens no longer get in.
        stale = await connect(gw.url, hello=False)
        assert await hello_refused(stale, token=signed("alice", "k1", "k1")) == 4001


async def test_made_up_kids_cost_the_provider_one_fetch_per_interval(
    gateway_with: StartGateway, idp: Idp, connect: Connect
) -> None:
    idp.keys = [kp.jwk(kp.rsa_key("k1"), "k1")]
    async with gateway_with(**jwks_settings(idp, refetch_interval=60.0)) as gw:
        for n in range(30):
            client = await connect(gw.url, hello=False)
            assert await hello_refused(client, token=signed("eve", f"made-up-{n}", "k1")) == 4001
        assert idp.fetches == 1
        assert (await connect(gw.url, token=signed("alice", "k1", "k1"))).others[0]["op"] == (
            "welcome"
        )
