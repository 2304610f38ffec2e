"""Network fault tests: every real process on a host (namespace) of its own, then cuts.

``faults`` owns everything a test makes and undoes it in order, also when the
test fails: clients, then the processes, then this thread's return to the
root namespace, then the namespaces (``Network.close``, by this run's prefix
only). The test's event loop runs inside the ``client`` host for the whole
test, so its clients (SDK fleets, raw clients, HTTP probes) reach the gateways
over the bridge. Each scenario prints one ``FAULT <name> lost=N duplicates=N
out_of_order=N rto_s=X rpo=N ...`` line (``pytest -s``) and the same as JSON.

Needs root (``ip netns``, veth, bridge, ``iptables`` in its own namespaces).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from haws.cluster import Gateway
from haws.cluster.netns import call_in, entered
from haws.cluster.network import Network
from tests.e2e.chaos.fleet import Fleet
from tests.e2e.chaos.report import emit
from tests.e2e.chaos.sizes import FleetSize
from tests.e2e.chaos.stream import SteadyStream
from tests.e2e.faults.placement import FaultCluster, FaultSpec
from tests.support.client_owner import ClientOwner

START_TIMEOUT = 90.0


def require_network_namespaces() -> None:
    """Fail (never skip) where the harness cannot run: the scenarios are the proof."""
    if os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("iptables") is None:
        pytest.fail("network fault tests need root, `ip` (iproute2) and `iptables`")


class FaultHarness(ClientOwner):
    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path, "FAULT")
        self.net = Network()
        self._cluster: FaultCluster | None = None
        self._inside = contextlib.ExitStack()

    @property
    def cluster(self) -> FaultCluster:
        if self._cluster is None:
            raise RuntimeError("start() first")
        return self._cluster

    async def start(self, spec: FaultSpec) -> FaultCluster:
        """Build the network and its hosts, enter the client host, start every process."""
        await asyncio.to_thread(self.net.create)
        self._cluster = await asyncio.to_thread(
            FaultCluster, self.net, self.tmp_path / "cluster", spec
        )
        self._inside.enter_context(entered(self._cluster.client.netns))
        started = time.monotonic()
        await asyncio.to_thread(
            call_in, self._cluster.client.netns, self._cluster.start, START_TIMEOUT
        )
        print(f"\nFAULT cluster up in {time.monotonic() - started:.1f} s ({self.net.prefix})")
        return self._cluster

    async def cut(self, a: str, b: str) -> None:
        await asyncio.to_thread(self.net.cut, a, b)

    async def partition(self, side: Sequence[str], other: Sequence[str]) -> None:
        await asyncio.to_thread(self.net.partition, list(side), list(other))

    async def isolate(self, host: str) -> None:
        await asyncio.to_thread(self.net.isolate, host)

    async def heal(self) -> None:
        await asyncio.to_thread(self.net.heal)

    def topic(self, scenario: str) -> str:
        return f"fault.{scenario}.{uuid.uuid4().hex[:8]}"

    async def steady_fleet(
        self,
        topic: str,
        size: FleetSize,
        gateways: Sequence[Gateway],
        publisher_urls: Sequence[str],
        **settings: Any,
    ) -> tuple[Fleet, SteadyStream]:
        """``size.clients`` subscribers spread over ``gateways``, and a started stream."""
        return await self.open_steady_fleet(
            topic, size, gateways, publisher_urls, slack=90.0, **settings
        )

    def emit(self, scenario: str, **fields: Any) -> None:
        logs = self.tmp_path / "cluster" / "logs"
        emit(self.tmp_path, scenario, kind="FAULT", **fields, logs=str(logs))

    async def aclose(self) -> None:
        try:
            if self._cluster is not None:
                # Healed first: closes then reach their peers, gateways drain.
                await asyncio.to_thread(self.net.heal)
            await self.close_clients()
            if self._cluster is not None:
                await asyncio.to_thread(self._cluster.stop)
        finally:
            self._inside.close()
            await asyncio.to_thread(self.net.close)


@pytest.fixture
async def faults(tmp_path: Path) -> AsyncIterator[FaultHarness]:
    require_network_namespaces()
    harness = FaultHarness(tmp_path)
    try:
        yield harness
    finally:
        await harness.aclose()
