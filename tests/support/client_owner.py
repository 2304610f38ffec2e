"""The client side of a whole-cluster test: fleets, SDK and raw clients, one wire log.

The chaos harness (processes killed and paused) and the fault harness (network
cuts) open their clients the same way and must close them the same way:
before the cluster stops, so the gateways stop without clients to drain, and
each group under a bound, so a close that hangs is reported, not waited for.
Each harness adds how it starts and stops its cluster.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from haws.client import Client
from haws.cluster import Gateway
from tests.e2e.chaos.fleet import Fleet
from tests.e2e.chaos.sizes import FleetSize
from tests.e2e.chaos.stream import SteadyStream
from tests.support.wire_log import WireLog
from tests.support.ws_client import WsClient

CLOSE_TIMEOUT = 20.0


class ClientOwner:
    def __init__(self, tmp_path: Path, kind: str) -> None:
        self.tmp_path = tmp_path
        self.kind = kind
        """``CHAOS`` or ``FAULT``: how the teardown's complaints are labelled."""
        self.log = WireLog()
        self._fleets: list[Fleet] = []
        self._clients: list[Client] = []
        self._raw: list[WsClient] = []

    def fleet(self, prefix: str = "c") -> Fleet:
        fleet = Fleet(self.log, self.tmp_path, prefix)
        self._fleets.append(fleet)
        return fleet

    async def open_steady_fleet(
        self,
        topic: str,
        size: FleetSize,
        gateways: Sequence[Gateway],
        publisher_urls: Sequence[str],
        *,
        slack: float,
        **settings: Any,
    ) -> tuple[Fleet, SteadyStream]:
        """``size.clients`` subscribers spread over ``gateways``, and a started stream of
        ``size.messages`` at ``size.rate`` from an SDK publisher on ``publisher_urls``,
        given ``slack`` seconds past its paced length before it gives up."""
        fleet = self.fleet()
        await fleet.open(size.clients, gateways, **settings)
        await fleet.subscribe(topic)
        publisher = self.client(publisher_urls, name="publisher")
        await publisher.connect()
        stream = SteadyStream(
            publisher, topic, size.messages, size.rate, deadline=size.messages / size.rate + slack
        )
        stream.start()
        return fleet, stream

    def client(
        self,
        urls: Sequence[str],
        *,
        name: str | None = None,
        discover: bool = False,
        **settings: Any,
    ) -> Client:
        """An SDK client closed at teardown; with ``name`` its frames go to the wire log."""
        if name is not None:
            settings["on_frame"] = self.log.tap(name)
        client = Client(list(urls), discover=discover, **settings)
        self._clients.append(client)
        return client

    async def raw(self, url: str, **hello: Any) -> tuple[WsClient, dict[str, Any]]:
        """A raw protocol client closed at teardown, and the ``welcome`` to its ``hello``."""
        client = await WsClient.connect(url)
        self._raw.append(client)
        return client, await client.hello(**hello)

    async def close_clients(self) -> None:
        """Fleets, then SDK clients, then raw clients, each group under ``CLOSE_TIMEOUT``."""
        closes = [
            ("fleets", [fleet.close() for fleet in self._fleets]),
            ("sdk clients", [c.close() for c in self._clients]),
            ("raw clients", [c.close() for c in self._raw]),
        ]
        for what, group in closes:
            try:
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await asyncio.gather(*group, return_exceptions=True)
            except TimeoutError:
                print(f"\n{self.kind} teardown: closing the {what} took over {CLOSE_TIMEOUT} s")
