"""Resuming protocol clients through HAProxy's published port, closed by their owner."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

from tests.support.resuming_client import ResumingClient

LIFETIME = 600.0
"""Seconds a client keeps reconnecting: longer than any scenario."""
CLOSE_TIMEOUT = 20.0


class ClientPool:
    def __init__(self, url: str) -> None:
        self.url = url
        self.clients: list[ResumingClient] = []

    async def open(self, name: str, topics: Sequence[str] = ()) -> ResumingClient:
        client = ResumingClient(self.url, topics, name=name, lifetime=LIFETIME)
        self.clients.append(client)
        return await client.start(timeout=30)

    async def spread(self, prefix: str, topics: Sequence[str], count: int) -> list[ResumingClient]:
        """``count`` subscribers; HAProxy's leastconn spreads them over the gateways."""
        return [await self.open(f"{prefix}-{i}", topics) for i in range(count)]

    async def on_different_gateways(
        self, topics: Sequence[str], attempts: int = 6
    ) -> tuple[ResumingClient, ResumingClient]:
        """Two clients welcomed by different gateways (HAProxy picks; bounded tries)."""
        first = await self.open("a", topics)
        for attempt in range(attempts):
            second = await self.open(f"b{attempt}", topics)
            if second.node != first.node:
                return first, second
        raise AssertionError(f"{attempts} clients all landed on {first.node}")

    @staticmethod
    def by_node(clients: Sequence[ResumingClient]) -> Counter[str | None]:
        return Counter(c.node for c in clients)

    async def close(self) -> None:
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await asyncio.gather(*(c.close() for c in self.clients), return_exceptions=True)
        except TimeoutError:
            print(f"\nCOMPOSE teardown: closing the clients took over {CLOSE_TIMEOUT} s")
