"""Chaos tests: the whole local cluster as real processes, then faults injected into it.

Each scenario is parametrized with a short size (part of ``make test``) and a
long one marked ``chaos`` (``make chaos``). ``harness`` owns everything a test
starts and ends it in order: clients first, then the cluster, so the gateways
stop without clients to drain. The cluster's logs stay in the test's tmp folder
(``<tmp>/cluster/logs``), named in every scenario's report line.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from haws.client import Client
from haws.cluster import ClusterError, ClusterSpec, LocalCluster
from tests.e2e.chaos.fleet import Fleet
from tests.e2e.chaos.report import emit
from tests.e2e.chaos.sizes import FleetSize
from tests.e2e.chaos.stream import SteadyStream
from tests.support.wire_log import WireLog
from tests.support.ws_client import WsClient

START_TIMEOUT = 60.0
START_ATTEMPTS = 2
CLOSE_TIMEOUT = 20.0


class Harness:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.log = WireLog()
        self._cluster: LocalCluster | None = None
        self._fleets: list[Fleet] = []
        self._clients: list[Client] = []
        self._raw: list[WsClient] = []
        self.start_failures: list[str] = []

    @property
    def cluster(self) -> LocalCluster:
        if self._cluster is None:
            raise RuntimeError("start_cluster() first")
        return self._cluster

    async def start_cluster(self, spec: ClusterSpec) -> LocalCluster:
        """Start the cluster; a start that fails is tried once more in a fresh folder.

        Not the behaviour under test, but recorded: a service that exits during
        start-up (seen: ``nats: timeout`` declaring the R3 stream in a fresh 3-node
        cluster) lands in ``start_failures`` of the scenario's report.
        """
        for attempt in range(1, START_ATTEMPTS + 1):
            cluster = LocalCluster(
                self.tmp_path / f"cluster{'' if attempt == 1 else attempt}", spec
            )
            try:
                await asyncio.to_thread(cluster.start, START_TIMEOUT)
            except ClusterError as exc:
                self.start_failures.append(f"{cluster.data_dir}: {exc}"[:3000])
                print(f"\nCHAOS cluster start failed (attempt {attempt}): {str(exc)[:500]}")
                if attempt == START_ATTEMPTS:
                    raise
                continue
            self._cluster = cluster
            break
        return self.cluster

    def emit(self, scenario: str, **fields: Any) -> None:
        """The scenario's report line and JSON, with the cluster's logs and start retries."""
        emit(
            self.tmp_path,
            scenario,
            **fields,
            start_failures=len(self.start_failures),
            logs=str(self.data_dir / "logs"),
        )

    def topic(self, scenario: str) -> str:
        return f"chaos.{scenario}.{uuid.uuid4().hex[:8]}"

    def fleet(self, prefix: str = "c") -> Fleet:
        fleet = Fleet(self.log, self.tmp_path, prefix)
        self._fleets.append(fleet)
        return fleet

    async def steady_fleet(
        self,
        cluster: LocalCluster,
        topic: str,
        size: FleetSize,
        publisher_urls: Sequence[str],
    ) -> tuple[Fleet, SteadyStream]:
        """``size.clients`` subscribers spread over every gateway, and a started
        stream of ``size.messages`` at ``size.rate`` from an SDK publisher."""
        fleet = self.fleet()
        await fleet.open(size.clients, cluster.gateways)
        await fleet.subscribe(topic)
        publisher = self.client(publisher_urls, name="publisher")
        await publisher.connect()
        stream = SteadyStream(
            publisher, topic, size.messages, size.rate, deadline=size.messages / size.rate + 60
        )
        stream.start()
        return fleet, stream

    def client(self, urls: Sequence[str], *, name: str | None = None, **settings: Any) -> Client:
        """An SDK client closed at teardown; with ``name`` its frames go to the wire log."""
        if name is not None:
            settings["on_frame"] = self.log.tap(name)
        client = Client(list(urls), discover=False, **settings)
        self._clients.append(client)
        return client

    async def raw(self, url: str, **hello: Any) -> tuple[WsClient, dict[str, Any]]:
        """A raw protocol client closed at teardown, and the ``welcome`` to its ``hello``."""
        client = await WsClient.connect(url)
        self._raw.append(client)
        return client, await client.hello(**hello)

    @property
    def data_dir(self) -> Path:
        return self.cluster.data_dir

    async def aclose(self) -> None:
        """Clients first (each group bounded: a close that hangs is reported, not waited
        for), then the cluster."""
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
                print(f"\nCHAOS teardown: closing the {what} took over {CLOSE_TIMEOUT} s")
        if self._cluster is not None:
            await asyncio.to_thread(self._cluster.stop)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = Harness(tmp_path)
    try:
        yield harness
    finally:
        await harness.aclose()
