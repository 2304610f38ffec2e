"""What a browser page may read cross-origin: why its handshake failed, and the node list.

A refused WebSocket upgrade reaches a page only as close 1006; the JS SDK asks
the same URL over plain HTTP and must be able to read the status and
``Retry-After``, which needs ``Access-Control-Allow-Origin``.
"""

from __future__ import annotations

import aiohttp
import pytest

from tests.integration.security.conftest import OpenWs, StartGateway

pytestmark = pytest.mark.integration

PAGE = "http://127.0.0.1:8123"


async def test_a_refused_origin_can_read_its_403(gateway_with: StartGateway) -> None:
    gateway = gateway_with(allowed_origins=("http://allowed.example",))
    async with gateway as gw, aiohttp.ClientSession() as http:
        resp = await http.get(f"{gw.http}/ws", headers={"Origin": PAGE})
        resp.release()
        assert resp.status == 403
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
        assert "Retry-After" in resp.headers["Access-Control-Expose-Headers"]


async def test_a_full_node_shows_its_503_and_retry_after_to_the_page(
    gateway_with: StartGateway, open_ws: OpenWs
) -> None:
    gateway = gateway_with(allowed_origins=(PAGE,), max_connections=1)
    async with gateway as gw, aiohttp.ClientSession() as http:
        first = await open_ws(gw.url, headers={"Origin": PAGE})
        assert (await first.hello())["op"] == "welcome"
        async with http.get(f"{gw.http}/ws", headers={"Origin": PAGE}) as resp:
            assert resp.status == 503
            assert resp.headers["Access-Control-Allow-Origin"] == "*"
            assert int(resp.headers["Retry-After"]) > 0


async def test_the_gateway_list_is_readable_cross_origin(gateway_with: StartGateway) -> None:
    async with gateway_with(allowed_origins=(PAGE,)) as gw, aiohttp.ClientSession() as http:
        async with http.get(f"{gw.http}/v1/gateways", headers={"Origin": PAGE}) as resp:
            assert resp.status == 200
            assert resp.headers["Access-Control-Allow-Origin"] == "*"
        async with http.get(f"{gw.http}/metrics", headers={"Origin": PAGE}) as resp:
            assert "Access-Control-Allow-Origin" not in resp.headers
