"""Connections per node (503), per client address (429) and per user (close 1013)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from tests.integration.conftest import Connect
from tests.integration.security.conftest import (
    OpenWs,
    StartGateway,
    hello_refused,
    jwt_settings,
    token,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


async def refused_status(open_ws: OpenWs, url: str, **kwargs: object) -> int:
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await open_ws(url, **kwargs)
    return info.value.status


async def test_node_limit_answers_503_before_the_upgrade(
    gateway_with: StartGateway, open_ws: OpenWs
) -> None:
    async with gateway_with(max_connections=3) as gw:
        clients = [await open_ws(gw.url) for _ in range(3)]
        assert await refused_status(open_ws, gw.url) == 503
        assert gw.deps.metrics.limit_hits.labels("connections_per_node")._value.get() == 1
        # Half-open handshakes count too: none of the three sent hello yet.
        await clients[0].close()
        await eventually(lambda: gw.deps.limits.total == 2, message="lease released")
        assert (await (await open_ws(gw.url)).hello())["op"] == "welcome"
        for client in clients:  # half-open ones would hold up the node's stop
            await client.close()


async def test_address_limit_uses_forwarded_for_only_from_trusted_proxies(
    gateway_with: StartGateway, open_ws: OpenWs
) -> None:
    via = {"headers": {"X-Forwarded-For": "198.51.100.7"}}
    async with gateway_with(max_connections_per_ip=2, trusted_proxies=("127.0.0.1",)) as gw:
        for _ in range(2):
            await (await open_ws(gw.url, **via)).hello()
        assert await refused_status(open_ws, gw.url, **via) == 429
        # Another client behind the same proxy is not affected.
        other = {"headers": {"X-Forwarded-For": "198.51.100.7, 203.0.113.1"}}
        assert (await (await open_ws(gw.url, **other)).hello())["op"] == "welcome"
        assert gw.deps.limits.connections_of("203.0.113.1") == 1


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    gateway_with: StartGateway, open_ws: OpenWs
) -> None:
    async with gateway_with(max_connections_per_ip=2) as gw:
        for n in range(2):
            await (await open_ws(gw.url, headers={"X-Forwarded-For": f"198.51.100.{n}"})).hello()
        spoofed = {"headers": {"X-Forwarded-For": "198.51.100.99"}}
        assert await refused_status(open_ws, gw.url, **spoofed) == 429
        assert gw.deps.limits.connections_of("127.0.0.1") == 2


async def test_user_limit_closes_1013_after_hello(
    gateway_with: StartGateway, rsa_key_file: Path, connect: Connect
) -> None:
    async with gateway_with(**jwt_settings(rsa_key_file, max_connections_per_user=2)) as gw:
        for _ in range(2):
            await connect(gw.url, token=token("alice"))
        third = await connect(gw.url, hello=False)
        assert await hello_refused(third, token=token("alice")) == 1013
        assert gw.deps.metrics.limit_hits.labels("connections_per_user")._value.get() == 1
        assert (await connect(gw.url, token=token("bob"))).others[0]["op"] == "welcome"
