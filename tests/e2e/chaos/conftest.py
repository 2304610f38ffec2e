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

from haws.cluster import ClusterError, ClusterSpec, LocalCluster
from tests.e2e.chaos.fleet import Fleet
from tests.e2e.chaos.report import emit
from tests.e2e.chaos.sizes import FleetSize
from tests.e2e.chaos.stream import SteadyStream
from tests.support.client_owner import ClientOwner

START_TIMEOUT = 60.0
START_ATTEMPTS = 2


class Harness(ClientOwner):
    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path, "CHAOS")
        self._cluster: LocalCluster | None = None
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

    async def steady_fleet(
        self,
        cluster: LocalCluster,
        topic: str,
        size: FleetSize,
        publisher_urls: Sequence[str],
    ) -> tuple[Fleet, SteadyStream]:
        """``size.clients`` subscribers spread over every gateway, and a started
        stream of ``size.messages`` at ``size.rate`` from an SDK publisher."""
        return await self.open_steady_fleet(
            topic, size, cluster.gateways, publisher_urls, slack=60.0
        )

    @property
    def data_dir(self) -> Path:
        return self.cluster.data_dir

    async def aclose(self) -> None:
        """Clients first, then the cluster."""
        await self.close_clients()
        if self._cluster is not None:
            await asyncio.to_thread(self._cluster.stop)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = Harness(tmp_path)
    try:
        yield harness
    finally:
        await harness.aclose()
