"""One compose topology for the whole run: up once (the expensive part), torn down always.

``make compose-test`` builds the images first (``make compose-images``) and runs
only this folder (marker ``compose``, which ``make test`` excludes). The
topology fixture owns the podman API service, the health ticker and every
container, network and volume of its project, and the /24 reserved for its
network; teardown runs ``down -v``, then removes by label whatever is left and
frees the /24, also when ``up`` or a test failed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.compose.clients import ClientPool
from tests.compose.figures import report
from tests.compose.topology import Topology


@pytest.fixture(scope="session")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    topo = Topology(tmp_path_factory.mktemp("compose"))
    try:
        topo.up()
        subnet = str(topo.subnet.network) if topo.subnet else None
        healthy = round(topo.healthy_after or 0, 1)
        report("up", project=topo.project, subnet=subnet, healthy_after_s=healthy)
        yield topo
    finally:
        problems = topo.teardown()
        leftovers = topo.inventory.leftovers()
        if problems or any(leftovers.values()):
            raise AssertionError(f"teardown of {topo.project}: {problems} left {leftovers}")


@pytest.fixture
async def clients(topology: Topology) -> AsyncIterator[ClientPool]:
    pool = ClientPool(topology.ws_url)
    try:
        yield pool
    finally:
        await pool.close()
