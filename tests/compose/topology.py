"""docker-compose.yml run for real: docker-compose (v1) against podman, one project per run.

Everything the run creates carries its project name (``hawsct`` and 8 hex
digits): containers, the network, the volumes. ``teardown`` removes them with
``down -v`` and then, whatever is left, by the project's label, also when the
run failed half-way. Published host ports are free ports chosen per run
(``HAWS_HAPROXY_PORT`` and friends in docker-compose.yml) and the network is a
/24 of the run's own (``HAWS_SUBNET``, given or picked free and reserved by
``tests.compose.subnet``), so two runs on one machine, or a run next to a
developer's stack, touch nothing of each other's.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import yaml

from haws.cluster import free_ports
from haws.cluster.credentials import ClusterCredentials
from tests.compose.podman import (
    ApiService,
    ContainerState,
    HealthTicker,
    Inventory,
    podman,
    podman_env,
)
from tests.compose.subnet import Reservation, machine_networks, reserve

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILES = (ROOT / "docker-compose.yml", ROOT / "deploy" / "podman" / "compose.podman.yml")
IMAGES_DIR = ROOT / "run" / "compose"
"""Where ``make compose-images`` leaves images.env and containers.conf."""
PROJECT_PREFIX = "hawsct"
NATS = ("nats-1", "nats-2", "nats-3")
GATEWAYS = ("gateway-1", "gateway-2", "gateway-3")
CORE = (*NATS, "consul", *GATEWAYS, "presence-1", "presence-2", "replay-1", "replay-2", "haproxy")
"""The services ``up`` starts without a profile."""
UP_TIMEOUT = 360.0
HEALTHY_TIMEOUT = 240.0
COMPOSE_TIMEOUT = 180.0
"""Seconds one docker-compose command (kill, start, a recreate with its drain) may take."""
POLL = 0.25


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def poll(predicate: Callable[[], bool], timeout: float, what: Callable[[], str]) -> None:
    """Until ``predicate()`` holds; an AssertionError with ``what()`` after ``timeout``.

    Synchronous, for the session fixture and for threads; async code uses
    ``tests.support.waiting.eventually``.
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {timeout} s: {what()}")
        time.sleep(POLL)  # polling a condition under the deadline above


class Topology:
    def __init__(self, workdir: Path) -> None:
        images_env = IMAGES_DIR / "images.env"
        conf = IMAGES_DIR / "containers.conf"
        if not images_env.exists() or not conf.exists():
            raise RuntimeError(f"{images_env} or {conf} missing: run `make compose-images` first")
        self.workdir = workdir
        self.project = f"{PROJECT_PREFIX}{uuid4().hex[:8]}"
        self.ws_port, self.stats_port, self.consul_port, self.api_port = free_ports(4)
        self.wanted_subnet = os.environ.get("HAWS_SUBNET") or None
        """``make compose-test HAWS_SUBNET=10.77.3`` asks for one; else ``up`` picks."""
        self.subnet: Reservation | None = None
        self.api = ApiService(podman_env(conf), workdir)
        self.env = podman_env(
            conf,
            {
                **read_env_file(images_env),
                # One NATS user and Consul token per service (scripts/compose_secrets.py).
                **ClusterCredentials.generate().variables(),
                "DOCKER_HOST": self.api.docker_host,
                "COMPOSE_HTTP_TIMEOUT": str(int(COMPOSE_TIMEOUT)),
                "HAWS_HAPROXY_PORT": str(self.ws_port),
                "HAWS_HAPROXY_STATS_PORT": str(self.stats_port),
                "HAWS_CONSUL_PORT": str(self.consul_port),
                "HAWS_API_PORT": str(self.api_port),
                "HAWS_PUBLIC_URL": self.ws_url,
            },
        )
        self.inventory = Inventory(self.env, self.project)
        self.ticker = HealthTicker(self.inventory)
        self.addresses: dict[str, str] = {}
        """Each gateway's fixed address, as compose resolves it in the run's subnet."""
        self.healthy_after: float | None = None
        """Seconds from ``up`` to every service healthy."""

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/ws"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.ws_port}"

    # -- docker-compose ----------------------------------------------------------------

    def compose(self, *args: str, timeout: float = COMPOSE_TIMEOUT) -> str:
        files = [arg for path in COMPOSE_FILES for arg in ("-f", str(path))]
        argv = ["docker-compose", "-p", self.project, *files, "--project-directory", str(ROOT)]
        result = subprocess.run(
            [*argv, *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"docker-compose {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stderr[-3000:]}\n{self.diagnosis()}"
            )
        return result.stdout

    def up(self) -> None:
        """Start the podman API and the health ticker, reserve a /24, ``up -d``, wait
        for every service. The API comes first, so teardown's ``down -v`` can run
        whatever fails after it (a subnet refused, a service never healthy)."""
        self.api.start()
        self.ticker.start()
        env = self.env
        self.subnet = reserve(self.wanted_subnet, self.project, lambda: machine_networks(env))
        self.env["HAWS_SUBNET"] = self.subnet.prefix
        spec = yaml.safe_load(self.compose("config"))["services"]
        self.addresses = {
            gw: str(spec[gw]["networks"]["default"]["ipv4_address"]) for gw in GATEWAYS
        }
        started = time.monotonic()
        self.compose("up", "-d", timeout=UP_TIMEOUT)
        self.wait_healthy(CORE, HEALTHY_TIMEOUT)
        self.wait_pool_whole(HEALTHY_TIMEOUT)
        self.healthy_after = time.monotonic() - started

    def kill(self, service: str, signal: str = "KILL") -> None:
        self.compose("kill", "-s", signal, service)

    def start(self, service: str) -> None:
        self.compose("start", service)

    def recreate(self, service: str) -> None:
        """A new container for ``service``: the old one stops (SIGTERM, its drain) first."""
        self.compose("up", "-d", "--no-deps", "--force-recreate", service)

    def down(self) -> None:
        self.compose("down", "-v", timeout=UP_TIMEOUT)

    def teardown(self) -> list[str]:
        """Everything down and removed, each step tried even if one before failed."""
        problems: list[str] = []
        steps: list[tuple[str, Callable[[], object]]] = [
            ("down -v", self.down),
            ("remove by label", self.inventory.remove_all),
            ("health ticker", self.ticker.stop),
            ("podman service", self.api.stop),
            # Last: the /24 is free for another run only once the network is gone.
            ("subnet reservation", self.release_subnet),
        ]
        for what, step in steps:
            try:
                step()
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
                problems.append(f"{what}: {exc!r}"[:2000])
        return problems

    def release_subnet(self) -> None:
        if self.subnet is not None and not self.inventory.networks():
            self.subnet.release()

    # -- state -------------------------------------------------------------------------

    def states(self) -> dict[str, ContainerState]:
        return {c.service: c for c in self.inventory.containers()}

    def container(self, service: str) -> ContainerState:
        return self.states()[service]

    def finished_at(self, service: str) -> float:
        """When ``service``'s container last exited, as ``time.time()`` seconds."""
        out = podman(self.env, "container", "inspect", self.container(service).id)
        stamp = str(json.loads(out)[0]["State"]["FinishedAt"])
        # RFC 3339 with nanoseconds; datetime takes microseconds at most.
        match = re.fullmatch(r"(.+?\.\d{1,6})\d*(Z|[+-]\d\d:\d\d)", stamp)
        if match is not None:
            stamp = match.group(1) + match.group(2)
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()

    def _inspect(self, service: str) -> dict[str, Any]:
        out = podman(self.env, "container", "inspect", self.container(service).id)
        found = json.loads(out)[0]
        assert isinstance(found, dict)
        return found

    def address(self, service: str) -> str:
        """``service``'s address on the project's network, as podman assigned it."""
        networks = self._inspect(service)["NetworkSettings"]["Networks"]
        (network,) = networks.values()
        return str(network["IPAddress"])

    def environment(self, service: str) -> dict[str, str]:
        """The environment ``service``'s container runs with."""
        pairs = self._inspect(service)["Config"]["Env"] or []
        return dict(str(pair).split("=", 1) for pair in pairs)

    def exec(self, service: str, *argv: str) -> str:
        result = subprocess.run(
            ["podman", "exec", self.container(service).id, *argv],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=COMPOSE_TIMEOUT,
        )
        if result.returncode != 0:
            raise RuntimeError(f"exec {service} {argv}: {result.returncode}: {result.stderr}")
        return result.stdout

    def unhealthy(self, services: Iterable[str]) -> dict[str, str]:
        """The services in ``services`` not running-and-healthy, with their state."""
        states = self.states()
        bad: dict[str, str] = {}
        for service in services:
            state = states.get(service)
            if state is None:
                bad[service] = "no container"
            elif state.status != "running" or state.health not in (None, "healthy"):
                bad[service] = f"{state.status}/{state.health}"
        return bad

    def wait_healthy(self, services: Iterable[str], timeout: float = HEALTHY_TIMEOUT) -> None:
        wanted = list(services)
        poll(lambda: not self.unhealthy(wanted), timeout, lambda: self.diagnosis(wanted))

    def diagnosis(self, services: Iterable[str] = CORE) -> str:
        """Each unhealthy service's state and last log lines: a failure's evidence."""
        try:
            bad = self.unhealthy(services)
            states = self.states()
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            return f"(no diagnosis: {exc!r})"
        parts = [f"unhealthy: {bad}"] if bad else []
        for service in bad:
            if service in states:
                logs = self.inventory.logs(states[service].id)
                parts.append(f"--- {service} ({bad[service]}), last lines:\n{logs}")
        if self.ticker.errors:
            parts.append(f"health ticker errors: {self.ticker.errors[-5:]}")
        return "\n".join(parts)

    # -- HAProxy -----------------------------------------------------------------------

    def haproxy_up(self) -> set[str]:
        """Gateway addresses HAProxy has UP after a passed check (stats CSV)."""
        url = f"http://127.0.0.1:{self.stats_port}/;csv"
        with urllib.request.urlopen(url, timeout=5) as reply:
            text = reply.read().decode().lstrip("# ")
        up: set[str] = set()
        for row in csv.DictReader(io.StringIO(text)):
            server = row.get("pxname") == "gateways" and row.get("svname", "").startswith("gw")
            if server and row.get("status") == "UP" and row.get("check_status") == "L7OK":
                up.add(row.get("addr", "").rsplit(":", 1)[0])
        return up

    def pool_whole(self) -> bool:
        try:
            return set(self.addresses.values()) <= self.haproxy_up()
        except OSError:
            return False

    def wait_pool_whole(self, timeout: float = HEALTHY_TIMEOUT) -> None:
        poll(self.pool_whole, timeout, lambda: f"HAProxy UP: {self.safe_haproxy_up()}")

    def safe_haproxy_up(self) -> set[str] | str:
        try:
            return self.haproxy_up()
        except OSError as exc:
            return repr(exc)
