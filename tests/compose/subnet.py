"""A /24 of its own for each compose run: chosen free, held machine-wide until teardown.

docker-compose.yml derives its network and every fixed address from
``HAWS_SUBNET`` (the first three octets of a /24). Two runs on one host (two CI
clones, a developer's stack next to the test's) must not ask for the same one:
podman refuses the second (``subnet ... is already used``). So a run takes the
``HAWS_SUBNET`` it is given, or else the first /24 of a private pool that no host
route or address, no podman network and no other live run's reservation
overlaps. Choosing and reserving happen under one file lock, because two runs
starting together would otherwise both see the same /24 free before either has
created its network. A reservation is a file naming the run's process; one
whose process is gone is stale and is removed by the next run that looks.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Network
from pathlib import Path

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
POOL = IPv4Network("172.16.0.0/12")
"""Where a run looks when the default is taken: RFC 1918 space, never a public address."""
PRIVATE = (IPv4Network("10.0.0.0/8"), IPv4Network("172.16.0.0/12"), IPv4Network("192.168.0.0/16"))
RESERVATIONS = Path(tempfile.gettempdir()) / "haws-compose-subnets"
"""Shared by every run on the machine (not per clone), or reservations would not meet."""
COMMAND_TIMEOUT = 60.0
LOCK_TIMEOUT = 5 * COMMAND_TIMEOUT
"""Longer than a holder's four commands can take."""


class SubnetError(RuntimeError):
    """No usable /24: a bad ``HAWS_SUBNET``, one already in use, or a full pool."""


def compose_default(compose_text: str) -> str:
    """The default of ``${HAWS_SUBNET:-...}``, read rather than repeated here
    (tests/integration/test_deploy_files.py keeps every use on the same one)."""
    match = re.search(r"\$\{HAWS_SUBNET:-([^}]+)\}", compose_text)
    if match is None:
        raise SubnetError("docker-compose.yml has no ${HAWS_SUBNET:-default}")
    return match.group(1)


DEFAULT = compose_default(COMPOSE_FILE.read_text())
"""docker-compose.yml's own default, tried first."""


def network_of(prefix: str) -> IPv4Network:
    """``"10.77.3"`` -> ``10.77.3.0/24``, refusing anything that is not private."""
    parts = prefix.split(".")
    if len(parts) != 3 or not all(p.isdigit() and int(p) <= 255 for p in parts):
        raise SubnetError(f"HAWS_SUBNET={prefix!r}: want three octets of a /24, e.g. 10.77.3")
    network = IPv4Network(f"{prefix}.0/24")
    if not any(network.subnet_of(private) for private in PRIVATE):
        raise SubnetError(
            f"HAWS_SUBNET={prefix!r}: {network} is not private (10/8, 172.16/12, 192.168/16)"
        )
    return network


def prefix_of(network: IPv4Network) -> str:
    return str(network.network_address).rsplit(".", 1)[0]


def _run(env: Mapping[str, str], argv: list[str]) -> str:
    try:
        result = subprocess.run(
            argv, env=dict(env), capture_output=True, text=True, timeout=COMMAND_TIMEOUT
        )
    except FileNotFoundError:
        raise SubnetError(f"{argv[0]} not found (bash scripts/install-compose.sh)") from None
    if result.returncode != 0:
        raise SubnetError(f"{' '.join(argv)}: {result.returncode}: {result.stderr[-1000:]}")
    return result.stdout


def _networks(texts: Iterable[str]) -> Iterator[IPv4Network]:
    for text in texts:
        try:
            yield IPv4Network(text, strict=False)
        except ValueError:  # "default" and the like: not a network of its own
            continue


def host_networks(env: Mapping[str, str]) -> list[IPv4Network]:
    """Every IPv4 route (all tables) and address on the host, the default route aside."""
    routes = _run(env, ["ip", "-j", "-4", "route", "show", "table", "all"])
    links = _run(env, ["ip", "-j", "-4", "addr", "show"])
    return [*routed(routes), *addressed(links)]


def routed(ip_route_json: str) -> list[IPv4Network]:
    """The destinations of ``ip -j route``; ``default`` covers everything, so it is left out."""
    routes = json.loads(ip_route_json or "[]")
    found = _networks(str(route.get("dst", "")) for route in routes)
    return [net for net in found if net.prefixlen > 0]


def addressed(ip_addr_json: str) -> list[IPv4Network]:
    """The networks of the host's own addresses (``ip -j addr``)."""
    links = json.loads(ip_addr_json or "[]")
    return list(
        _networks(
            f"{info['local']}/{info['prefixlen']}"
            for link in links
            for info in link.get("addr_info", [])
            if "local" in info and "prefixlen" in info
        )
    )


def podman_networks(env: Mapping[str, str]) -> list[IPv4Network]:
    """The subnets of podman's networks: they have no route until a container joins."""
    ids = _run(env, ["podman", "network", "ls", "-q"]).split()
    if not ids:
        return []
    return inspected_subnets(_run(env, ["podman", "network", "inspect", *ids]))


def inspected_subnets(podman_inspect_json: str) -> list[IPv4Network]:
    inspected = json.loads(podman_inspect_json or "[]")
    subnets = (
        str(subnet.get("subnet", ""))
        for network in inspected
        for subnet in network.get("subnets") or []
    )
    return [net for net in _networks(subnets) if net.version == 4]


def machine_networks(env: Mapping[str, str]) -> list[IPv4Network]:
    """What a new compose network must not overlap: the host's and podman's."""
    return [*host_networks(env), *podman_networks(env)]


def candidates(first: IPv4Network, pool: IPv4Network = POOL) -> Iterator[IPv4Network]:
    """``first``, then every /24 of ``pool`` from the one after ``first``, wrapping."""
    yield first
    subnets = list(pool.subnets(new_prefix=24))
    start = subnets.index(first) + 1 if first in subnets else 0
    for network in subnets[start:] + subnets[:start]:
        if network != first:
            yield network


def first_free(taken: Iterable[IPv4Network], options: Iterable[IPv4Network]) -> IPv4Network:
    used = list(taken)
    for network in options:
        if not any(network.overlaps(other) for other in used):
            return network
    raise SubnetError(f"no free /24 in {POOL}: set HAWS_SUBNET to a free private one")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


@dataclass(frozen=True, slots=True)
class Reservation:
    """A /24 held for one run; ``release`` when its network is gone."""

    network: IPv4Network
    file: Path

    @property
    def prefix(self) -> str:
        """What ``HAWS_SUBNET`` is set to: the first three octets."""
        return prefix_of(self.network)

    def release(self) -> None:
        self.file.unlink(missing_ok=True)


class Reservations:
    """The machine's held /24s: one file each, named by prefix, holding the owner's pid."""

    def __init__(self, directory: Path = RESERVATIONS, pid: int | None = None) -> None:
        self.directory = directory
        self.pid = os.getpid() if pid is None else pid

    def held(self) -> list[IPv4Network]:
        """The live reservations; stale ones (owner gone) are removed on the way."""
        live: list[IPv4Network] = []
        for file in self.directory.glob("*.subnet"):
            try:
                owner = int(file.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                owner = 0
            if owner and _alive(owner):
                live.append(network_of(file.name.removesuffix(".subnet")))
            else:
                file.unlink(missing_ok=True)
        return live

    def reserve(
        self, wanted: str | None, taken: Iterable[IPv4Network], project: str
    ) -> Reservation:
        """``wanted`` (an error if anything ``taken`` overlaps it) or the first free
        candidate; ``taken`` includes ``held()``, read under the same lock."""
        taken = list(taken)
        if wanted:
            network = network_of(wanted)
            clash = sorted({str(other) for other in taken if network.overlaps(other)})
            if clash:
                raise SubnetError(
                    f"HAWS_SUBNET={wanted}: {network} overlaps {', '.join(clash)} on this host"
                    " (a route, a podman network or another compose run); unset it to pick one"
                )
        else:
            network = first_free(taken, candidates(network_of(DEFAULT)))
        file = self.directory / f"{prefix_of(network)}.subnet"
        file.write_text(f"{self.pid} {project}\n")
        return Reservation(network, file)


def reserve(
    wanted: str | None,
    project: str,
    in_use: Callable[[], Iterable[IPv4Network]],
    directory: Path = RESERVATIONS,
) -> Reservation:
    """A /24 for ``project``, held until ``Reservation.release``; see the module's doc.

    ``in_use`` is asked under the lock, so what it reports cannot change between
    the look and the reservation by another run's doing."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "lock").open("a") as lock:
        _lock(lock.fileno(), LOCK_TIMEOUT)  # released when the file closes
        reservations = Reservations(directory)
        held = reservations.held()
        return reservations.reserve(wanted, [*held, *in_use()], project)


def _lock(fd: int, timeout: float) -> None:
    """An exclusive flock on ``fd`` within ``timeout`` s (a holder runs four short commands)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise SubnetError(f"the subnet lock is still held after {timeout} s") from None
            time.sleep(0.05)  # polling the lock under the deadline above
