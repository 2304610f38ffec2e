"""The fault harness's network: hosts reach each other over the bridge until a fault.

A TCP listener on host ``b`` (a socket made while this thread is in ``b``'s
namespace stays there) and connects from host ``a``: fine, then silently
dropped after ``cut`` or ``isolate`` (a timeout, not a refusal), fine again
after ``heal``. Closing removes every namespace of the run, also after a failure.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from haws.cluster.netns import entered, namespaces
from haws.cluster.network import Network
from tests.e2e.faults.conftest import require_network_namespaces

pytestmark = pytest.mark.integration
PORT = 7000
CONNECT_TIMEOUT = 1.0


@pytest.fixture
def network() -> Iterator[Network]:
    require_network_namespaces()
    with Network() as net:
        for name in ("a", "b", "c"):
            net.add_host(name)
        yield net
    assert not [n for n in namespaces() if n.startswith(net.prefix)]


@pytest.fixture
def listener(network: Network) -> Iterator[socket.socket]:
    b = network.hosts["b"]
    with entered(b.netns):
        server = socket.create_server((b.address, PORT), backlog=16)
    try:
        yield server
    finally:
        server.close()


def reaches(network: Network, source: str, target: str) -> bool:
    host = network.hosts[target]
    with entered(network.hosts[source].netns):
        try:
            socket.create_connection((host.address, PORT), timeout=CONNECT_TIMEOUT).close()
        except TimeoutError:
            return False
    return True


def test_cut_isolate_and_heal(network: Network, listener: socket.socket) -> None:
    assert reaches(network, "a", "b")
    network.cut("a", "b")
    assert not reaches(network, "a", "b")
    assert reaches(network, "c", "b"), "a cut is between two hosts only"
    network.heal()
    assert reaches(network, "a", "b")
    network.isolate("b")
    assert not reaches(network, "a", "b")
    assert not reaches(network, "c", "b")
    network.heal()
    assert reaches(network, "c", "b")


def test_leftovers_are_removed_by_prefix_only() -> None:
    require_network_namespaces()
    mine, other = Network(), Network()
    try:
        mine.create()
        other.create()
        mine.add_host("x")
        assert Network.remove_leftovers(mine.prefix) == sorted(
            [f"{mine.prefix}-sw", f"{mine.prefix}-x"]
        )
        assert f"{other.prefix}-sw" in namespaces()
    finally:
        mine.close()
        other.close()
