"""Browser Origins: an exact allow-list, refused with HTTP 403 before the upgrade."""

from __future__ import annotations

import aiohttp
import pytest

from tests.integration.security.conftest import OpenWs, StartGateway

pytestmark = pytest.mark.integration

ALLOWED = "https://app.example.com"


@pytest.mark.parametrize(
    "origin",
    [
        "https://app.example.com.evil.io",  # suffix trick
        "https://evil-app.example.com",
        "http://app.example.com",  # other scheme
        "https://app.example.com:444",  # other port
        "null",  # sandboxed frame, file:, redirects
        "https://evil.io",
    ],
)
async def test_other_origins_get_403_before_the_upgrade(
    gateway_with: StartGateway, open_ws: OpenWs, origin: str
) -> None:
    async with gateway_with(allowed_origins=(ALLOWED,)) as gw:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await open_ws(gw.url, headers={"Origin": origin})
        assert info.value.status == 403
        assert gw.deps.metrics.handshakes_refused.labels("origin")._value.get() == 1
        assert gw.deps.limits.total == 0  # nothing was held for it


async def test_listed_origin_and_non_browser_clients_connect(
    gateway_with: StartGateway, open_ws: OpenWs
) -> None:
    async with gateway_with(allowed_origins=(ALLOWED,)) as gw:
        browser = await open_ws(gw.url, headers={"Origin": ALLOWED})
        assert (await browser.hello())["op"] == "welcome"
        tool = await open_ws(gw.url)  # no Origin header
        assert (await tool.hello())["op"] == "welcome"


async def test_default_allows_no_browser_page(gateway_with: StartGateway, open_ws: OpenWs) -> None:
    async with gateway_with() as gw:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await open_ws(gw.url, headers={"Origin": "http://localhost:3000"})
        assert info.value.status == 403
