"""Clients through HAProxy's published port, closed by their owner.

Subscribers are the raw resuming clients of ``tests/support`` (judged at the wire);
a publisher is the SDK (``haws.client``), which also retries a ``pub`` refused
``unavailable`` with its ``mid`` (protocol.md), as the chaos suite's publisher does.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence

from haws.client import Client
from tests.support.resuming_client import ResumingClient

LIFETIME = 600.0
"""Seconds a client keeps reconnecting: longer than any scenario."""
CLOSE_TIMEOUT = 20.0


class ClientPool:
    def __init__(self, url: str) -> None:
        self.url = url
        self.clients: list[ResumingClient] = []
        self.sdk_clients: list[Client] = []

    async def open(self, name: str, topics: Sequence[str] = ()) -> ResumingClient:
        client = ResumingClient(self.url, topics, name=name, lifetime=LIFETIME)
        self.clients.append(client)
        return await client.start(timeout=30)

    async def publisher(self) -> Client:
        client = Client([self.url], discover=False)
        self.sdk_clients.append(client)
        await client.connect(timeout=30)
        return client

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
                await asyncio.gather(
                    *(c.close() for c in self.clients),
                    *(c.close() for c in self.sdk_clients),
                    return_exceptions=True,
                )
        except TimeoutError:
            print(f"\nCOMPOSE teardown: closing the clients took over {CLOSE_TIMEOUT} s")


class Arrivals:
    """When each message of one topic arrived at each client (``time.time()``, ~20 ms).

    The raw client keeps frames, not times; a resume time needs the time. One task
    polls the clients' records; ``stop`` cancels and awaits it.
    """

    def __init__(self, clients: Sequence[ResumingClient], topic: str, tick: float = 0.02) -> None:
        self.topic = topic
        self._clients = list(clients)
        self._tick = tick
        self._seen: dict[str, int] = {c.name: 0 for c in self._clients}
        self._at: dict[tuple[str, int], float] = {}
        self._task = asyncio.create_task(self._run(), name=f"arrivals {topic}")

    async def _run(self) -> None:
        while True:
            now = time.time()
            for client in self._clients:
                msgs = client.msgs[self.topic]
                for frame in msgs[self._seen[client.name] :]:
                    self._at.setdefault((client.name, frame["seq"]), now)
                self._seen[client.name] = len(msgs)
            await asyncio.sleep(self._tick)  # sampling arrival times, not waiting for a state

    def at(self, client: ResumingClient, seq: int) -> float | None:
        return self._at.get((client.name, seq))

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
