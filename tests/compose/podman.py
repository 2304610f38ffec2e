"""The podman pieces the compose run needs: its Docker API service, healthchecks, inventory.

docker-compose (v1) talks to ``podman system service`` on a socket of this run's
own. Without systemd podman never runs a container's healthcheck by itself (it
schedules them as systemd timers), so ``HealthTicker`` runs
``podman healthcheck run`` on each container at its healthcheck's interval:
what Docker's daemon does, so ``depends_on: condition: service_healthy`` and
``(healthy)`` mean the same as under Docker. Every podman call gets
``CONTAINERS_CONF`` (runtime, cgroup manager, network backend, ulimits) from
the file ``scripts/compose-images.sh`` wrote, never from /etc.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
COMMAND_TIMEOUT = 60.0
"""Seconds one podman command may take (under load a healthcheck run takes ~1 s)."""
SERVICE_START_TIMEOUT = 30.0


def podman(
    env: Mapping[str, str], *args: str, timeout: float = COMMAND_TIMEOUT, check: bool = True
) -> str:
    """Run ``podman args...``; its stdout, or an error carrying its stderr."""
    result = subprocess.run(
        ["podman", *args], env=dict(env), capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args)}: {result.returncode}: {result.stderr[-2000:]}")
    return result.stdout


@dataclass(frozen=True, slots=True)
class ContainerState:
    id: str
    name: str
    service: str
    status: str
    """``running``, ``exited``, ..."""
    health: str | None
    """``healthy``, ``unhealthy``, ``starting``; ``None`` without a healthcheck."""
    interval: float | None
    """Seconds between healthchecks, ``None`` without one."""

    @classmethod
    def of(cls, inspected: Mapping[str, Any]) -> ContainerState:
        config = inspected.get("Config") or {}
        check = config.get("Healthcheck") or {}
        has_check = bool(check.get("Test")) and check.get("Test") != ["NONE"]
        state = inspected.get("State") or {}
        health = (state.get("Health") or state.get("Healthcheck") or {}).get("Status")
        interval = (check.get("Interval") or 30_000_000_000) / 1e9 if has_check else None
        return cls(
            id=str(inspected["Id"]),
            name=str(inspected["Name"]).lstrip("/"),
            service=str((config.get("Labels") or {}).get(SERVICE_LABEL, "")),
            status=str(state.get("Status", "")),
            health=(health or "starting") if has_check else None,
            interval=interval,
        )


class Inventory:
    """What podman holds of one compose project, found by the project's label."""

    def __init__(self, env: Mapping[str, str], project: str) -> None:
        self.env = env
        self.project = project
        self._filter = f"label={PROJECT_LABEL}={project}"

    def container_ids(self, *, running_only: bool = False) -> list[str]:
        args = ["ps", "-q", "--no-trunc", "--filter", self._filter]
        if not running_only:
            args.insert(1, "-a")
        return podman(self.env, *args).split()

    def containers(self) -> list[ContainerState]:
        ids = self.container_ids()
        if not ids:
            return []
        # A container removed between ps and inspect is simply not reported.
        out = podman(self.env, "container", "inspect", *ids, check=False)
        return [ContainerState.of(item) for item in json.loads(out or "[]")]

    def networks(self) -> list[str]:
        return podman(self.env, "network", "ls", "-q", "--filter", self._filter).split()

    def volumes(self) -> list[str]:
        return podman(self.env, "volume", "ls", "-q", "--filter", self._filter).split()

    def leftovers(self) -> dict[str, list[str]]:
        """Every container, network and volume of the project still there, by label or
        by name (compose prefixes each name with the project's)."""

        def named(*args: str) -> set[str]:
            out = podman(
                self.env, *args, "--format", "{{.Name}}" if args[0] != "ps" else "{{.Names}}"
            )
            return {name for name in out.split() if name.startswith(self.project)}

        return {
            "containers": sorted(set(self.container_ids()) | named("ps", "-a")),
            "networks": sorted(set(self.networks()) | named("network", "ls")),
            "volumes": sorted(set(self.volumes()) | named("volume", "ls")),
        }

    def remove_all(self) -> None:
        """Remove whatever is left, by label: the teardown of last resort."""
        ids = self.container_ids()
        if ids:
            podman(self.env, "rm", "-f", "-t", "0", *ids, check=False)
        for network in self.networks():
            podman(self.env, "network", "rm", "-f", network, check=False)
        for volume in self.volumes():
            podman(self.env, "volume", "rm", "-f", volume, check=False)

    def logs(self, container: str, lines: int = 30) -> str:
        result = subprocess.run(
            ["podman", "logs", "--tail", str(lines), container],
            env=dict(self.env),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )
        return (result.stdout + result.stderr).strip()


class ApiService:
    """``podman system service`` on a socket of this run, for docker-compose."""

    def __init__(self, env: Mapping[str, str], directory: Path) -> None:
        self.env = env
        self.socket = directory / "podman.sock"
        self.log = directory / "podman-service.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> None:
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                ["podman", "system", "service", "--time=0", self.docker_host],
                env=dict(self.env),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + SERVICE_START_TIMEOUT
        while not self._accepts():
            if self._process.poll() is not None:
                raise RuntimeError(f"podman system service exited: {self.log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"podman system service: no socket in {SERVICE_START_TIMEOUT} s")
            time.sleep(0.1)  # polling the socket under the deadline above

    def _accepts(self) -> bool:
        if not self.socket.exists():
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(str(self.socket))
            except OSError:
                return False
        return True

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=15)
        self._process = None


class HealthTicker:
    """Runs every running container's healthcheck at its interval, as Docker's daemon does.

    A thread (the tests' event loops come and go per test) with a small pool, so
    one slow check does not hold the others back. Stopped and joined by ``stop``.
    """

    def __init__(self, inventory: Inventory, period: float = 0.5, workers: int = 4) -> None:
        self.inventory = inventory
        self.period = period
        self.errors: list[str] = []
        self._due: dict[str, float] = {}
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="healthcheck")
        self._thread = threading.Thread(target=self._loop, name="health-ticker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick(time.monotonic())
            except (RuntimeError, OSError, subprocess.TimeoutExpired, ValueError) as exc:
                self.errors.append(repr(exc)[:500])
            self._stop.wait(self.period)

    def _tick(self, now: float) -> None:
        running = [c for c in self.inventory.containers() if c.status == "running" and c.interval]
        for container in running:
            with self._lock:
                if container.id in self._running or self._due.get(container.id, 0.0) > now:
                    continue
                self._running.add(container.id)
                self._due[container.id] = now + (container.interval or self.period)
            self._pool.submit(self._check, container.id)

    def _check(self, container: str) -> None:
        try:
            # Exit 1 is an unhealthy verdict, recorded by podman itself.
            podman(self.inventory.env, "healthcheck", "run", container, check=False)
        except subprocess.TimeoutExpired:
            self.errors.append(f"healthcheck run {container[:12]} timed out")
        finally:
            with self._lock:
                self._running.discard(container)


def podman_env(containers_conf: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of every podman and docker-compose call of the run."""
    return {**os.environ, "CONTAINERS_CONF": str(containers_conf), **(extra or {})}
