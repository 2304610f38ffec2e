"""Fixtures shared by every test tier: real Consul and NATS processes on free loopback ports.

The processes come from ``haws.cluster``, the same code behind ``haws up``, and
die with the test run even if pytest itself is killed (see ``haws.cluster.process``).
Tests under ``tests/integration``, ``tests/e2e`` and ``tests/compose`` are marked by
folder, so ``-m "not e2e"`` and friends work without a decorator on every test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from haws.cluster import ConsulAgent, NatsServer
from haws.cluster import free_port as _free_port

TESTS = Path(__file__).resolve().parent
FOLDER_MARKERS = {
    "integration": pytest.mark.integration,
    "e2e": pytest.mark.e2e,
    "compose": pytest.mark.compose,
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        try:
            tier = item.path.resolve().relative_to(TESTS).parts[0]
        except ValueError:
            continue
        marker = FOLDER_MARKERS.get(tier)
        if marker is not None:
            item.add_marker(marker)


@pytest.fixture(scope="session")
def consul_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsulAgent]:
    """One Consul dev agent for the session; tests use unique service ids."""
    with ConsulAgent(tmp_path_factory.mktemp("consul"), node="haws-test") as agent:
        yield agent


@pytest.fixture(scope="session")
def shared_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """One JetStream server for the session, for tests that only need a broker.

    Never stop, kill or pause it in a test: use ``nats_server`` for that.
    """
    with NatsServer(tmp_path_factory.mktemp("shared-nats"), name="shared-nats") as server:
        yield server


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A fresh JetStream server of this test's own; it may kill and restart it."""
    with NatsServer(tmp_path / "nats-data") as server:
        yield server


@pytest.fixture
def free_port() -> Callable[[], int]:
    """Call it for a port free on 127.0.0.1 (TCP and UDP): ``port = free_port()``."""
    return _free_port


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty folder for a test's data and logs."""
    path = tmp_path / "data"
    path.mkdir()
    return path
