"""A Consul agent in ``-dev`` mode (server, in memory, UI on) with every port on loopback.

Dev mode keeps no data dir, so a restart forgets registrations: fine for local
runs and tests, where gateways re-register on their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from haws.cluster.component import Component, find_binary
from haws.cluster.ports import LOOPBACK, free_ports
from haws.cluster.probe import http_json


@dataclass(frozen=True, slots=True)
class ConsulPorts:
    http: int
    dns: int
    serf_lan: int
    serf_wan: int
    server: int
    grpc: int

    @classmethod
    def free(cls) -> ConsulPorts:
        return cls(*free_ports(6))


class ConsulAgent(Component):
    """``consul agent -dev``; ready when it has elected itself leader."""

    def __init__(
        self,
        data_dir: Path,
        *,
        name: str = "consul",
        node: str = "haws-dev",
        ports: ConsulPorts | None = None,
        binary: str | None = None,
        host: str = LOOPBACK,
    ) -> None:
        super().__init__(name, data_dir)
        self.host = host
        self.node = node
        self.ports = ports or ConsulPorts.free()
        self.binary = binary or find_binary("consul")

    @property
    def http_port(self) -> int:
        return self.ports.http

    @property
    def dns_port(self) -> int:
        return self.ports.dns

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.ports.http}"

    @property
    def dns_address(self) -> str:
        """``host:port`` of the DNS interface, as HAProxy's ``nameserver`` takes it."""
        return f"{self.host}:{self.ports.dns}"

    @property
    def ui_url(self) -> str:
        return f"{self.http_url}/ui/"

    def argv(self) -> list[str]:
        p = self.ports
        return [
            self.binary, "agent", "-dev", "-node", self.node,
            "-bind", self.host, "-client", self.host,
            "-http-port", str(p.http), "-dns-port", str(p.dns),
            "-serf-lan-port", str(p.serf_lan), "-serf-wan-port", str(p.serf_wan),
            "-server-port", str(p.server), "-grpc-port", str(p.grpc),
        ]  # fmt: skip

    def ready(self) -> bool:
        leader = http_json(f"{self.http_url}/v1/status/leader")
        return isinstance(leader, str) and bool(leader)

    def describe(self) -> dict[str, Any]:
        return {"http": self.http_url, "dns": self.dns_address, "pid": self.pid}
