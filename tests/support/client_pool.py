"""The raw WebSocket clients one test opens, all closed at its end (even when it fails)."""

from __future__ import annotations

from typing import Any

from tests.support.ws_client import WsClient


class ClientPool:
    """``async with ClientPool() as clients: await clients.open(url)``.

    A test that opens clients on nodes it kills must still close them, or their
    aiohttp sessions outlive the test's loop and warn in a later one.
    """

    def __init__(self) -> None:
        self.opened: list[WsClient] = []

    async def connect(self, url: str, **options: Any) -> WsClient:
        """A client on ``url`` that has said nothing yet (``WsClient.connect`` options)."""
        client = await WsClient.connect(url, **options)
        self.opened.append(client)
        return client

    async def open(self, url: str, **hello: Any) -> WsClient:
        """A client on ``url`` that has had its welcome (``hello`` fields: token, session...)."""
        client = await self.connect(url)
        await client.hello(**hello)
        return client

    async def close(self) -> None:
        for client in self.opened:
            await client.close()

    async def __aenter__(self) -> ClientPool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
