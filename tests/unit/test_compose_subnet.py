"""How a compose run chooses and holds its /24 (tests/compose/subnet.py), without podman.

``make compose-test`` proves it for real (two runs at once each get their own
network); these pin the rules: private only, nothing overlapping, the lock
making two simultaneous choices different, a dead run's reservation freed.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
from ipaddress import IPv4Network
from pathlib import Path

import pytest

from tests.compose.subnet import (
    DEFAULT,
    POOL,
    Reservations,
    SubnetError,
    addressed,
    candidates,
    compose_default,
    first_free,
    inspected_subnets,
    network_of,
    reserve,
    routed,
)

NOTHING: list[IPv4Network] = []


def net(text: str) -> IPv4Network:
    return IPv4Network(text)


@pytest.mark.parametrize("prefix", ["10.77.3", "172.31.255", "192.168.0", "172.28.0"])
def test_a_private_prefix_is_its_slash_24(prefix: str) -> None:
    assert network_of(prefix) == net(f"{prefix}.0/24")


@pytest.mark.parametrize("prefix", ["8.8.8", "172.32.0", "192.0.2", "100.64.0", "127.0.0"])
def test_a_public_or_special_prefix_is_refused(prefix: str) -> None:
    with pytest.raises(SubnetError, match="not private"):
        network_of(prefix)


@pytest.mark.parametrize("prefix", ["10.77", "10.77.3.0", "10.77.300", "10.x.3", "", "10.77.3/24"])
def test_a_malformed_prefix_is_refused_with_an_example(prefix: str) -> None:
    with pytest.raises(SubnetError, match="three octets"):
        network_of(prefix)


def test_the_default_comes_first_then_the_pool_in_order_wrapping() -> None:
    order = list(candidates(network_of(DEFAULT)))
    assert order[:3] == [net("172.28.0.0/24"), net("172.28.1.0/24"), net("172.28.2.0/24")]
    assert order[-1] == net("172.27.255.0/24")
    assert len(order) == len(set(order)) == 2**12
    assert all(candidate.subnet_of(POOL) for candidate in order)


def test_the_first_free_skips_every_overlap_small_or_large() -> None:
    taken = [net("172.28.0.5/32"), net("172.28.0.0/23"), net("172.28.2.0/25")]
    assert first_free(taken, candidates(network_of(DEFAULT))) == net("172.28.3.0/24")


def test_a_full_pool_says_how_to_choose_by_hand() -> None:
    with pytest.raises(SubnetError, match="set HAWS_SUBNET"):
        first_free([POOL], candidates(network_of(DEFAULT)))


def test_routes_count_except_the_default_one() -> None:
    routes = [
        {"dst": "default", "gateway": "192.0.2.1"},
        {"dst": "172.28.0.0/24", "dev": "podman1"},
        {"dst": "10.88.0.1", "table": "local", "type": "local"},
        {"dst": "multicast-ish"},
    ]
    assert routed(json.dumps(routes)) == [net("172.28.0.0/24"), net("10.88.0.1/32")]


def test_addresses_count_by_their_network() -> None:
    links = [
        {"ifname": "lo", "addr_info": [{"local": "127.0.0.1", "prefixlen": 8}]},
        {"ifname": "eth0", "addr_info": [{"local": "172.28.5.9", "prefixlen": 20}]},
        {"ifname": "tun0", "addr_info": [{"family": "inet"}]},
    ]
    assert addressed(json.dumps(links)) == [net("127.0.0.0/8"), net("172.28.0.0/20")]


def test_podman_networks_count_by_their_ipv4_subnets() -> None:
    inspected = [
        {"name": "podman", "subnets": [{"subnet": "10.88.0.0/16", "gateway": "10.88.0.1"}]},
        {"name": "dual", "subnets": [{"subnet": "172.28.9.0/24"}, {"subnet": "fd00::/64"}]},
        {"name": "none", "subnets": None},
    ]
    assert inspected_subnets(json.dumps(inspected)) == [net("10.88.0.0/16"), net("172.28.9.0/24")]


def test_a_reservation_is_held_until_released(tmp_path: Path) -> None:
    first = reserve(None, "p1", lambda: NOTHING, tmp_path)
    second = reserve(None, "p2", lambda: NOTHING, tmp_path)
    assert (first.prefix, second.prefix) == ("172.28.0", "172.28.1")
    assert first.file.read_text().split()[1] == "p1"
    first.release()
    assert reserve(None, "p3", lambda: NOTHING, tmp_path).prefix == "172.28.0"


def test_what_the_machine_uses_is_skipped(tmp_path: Path) -> None:
    in_use = [net("172.28.0.0/16")]
    assert reserve(None, "p", lambda: in_use, tmp_path).prefix == "172.29.0"


def test_a_given_subnet_is_used_when_free(tmp_path: Path) -> None:
    reservation = reserve("10.77.3", "p", lambda: NOTHING, tmp_path)
    assert reservation.network == net("10.77.3.0/24")
    assert reservation.file.exists()


def test_a_given_subnet_in_use_is_refused_naming_what_it_overlaps(tmp_path: Path) -> None:
    with pytest.raises(SubnetError, match=r"10\.77\.0\.0/16"):
        reserve("10.77.3", "p", lambda: [net("10.77.0.0/16")], tmp_path)
    reserve("10.77.3", "p1", lambda: NOTHING, tmp_path)
    with pytest.raises(SubnetError, match="another compose run"):
        reserve("10.77.3", "p2", lambda: NOTHING, tmp_path)


def test_a_dead_runs_reservation_is_removed(tmp_path: Path) -> None:
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    dead = int(finished.stdout)
    Reservations(tmp_path, pid=dead).reserve(None, NOTHING, "crashed")
    assert (tmp_path / "172.28.0.subnet").exists()
    assert Reservations(tmp_path).held() == []
    assert not (tmp_path / "172.28.0.subnet").exists()


def test_two_runs_choosing_at_once_get_different_subnets(tmp_path: Path) -> None:
    """The lock spans the look and the reservation: without it both would see
    172.28.0 free while the other is still looking."""
    looking = threading.Barrier(2, timeout=10)
    got: list[str] = []
    errors: list[BaseException] = []

    def slow_look() -> list[IPv4Network]:
        # Both inside at once only if nothing serialises them.
        with contextlib.suppress(threading.BrokenBarrierError):
            looking.wait(timeout=0.5)
        return NOTHING

    def run(project: str) -> None:
        try:
            got.append(reserve(None, project, slow_look, tmp_path).prefix)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"p{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert sorted(got) == ["172.28.0", "172.28.1"]


def test_the_default_is_read_from_docker_compose_yml() -> None:
    assert DEFAULT == "172.28.0"
    assert compose_default("x: ${HAWS_SUBNET:-10.1.2}.10") == "10.1.2"
    with pytest.raises(SubnetError, match="no"):
        compose_default("x: 172.28.0.10")
