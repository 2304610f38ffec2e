"""A Consul agent in ``-dev`` mode (server, in memory, UI on) with every port on loopback.

Dev mode keeps no data dir, so a restart forgets registrations: fine for local
runs and tests, where gateways re-register on their own.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from haws.cluster.component import Component, find_binary
from haws.cluster.consul_acl import agent_acl_config
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
        acl_management_token: str | None = None,
        host: str = LOOPBACK,
    ) -> None:
        super().__init__(name, data_dir)
        self.host = host
        self.node = node
        self.ports = ports or ConsulPorts.free()
        self.binary = binary or find_binary("consul")
        self.acl_management_token = acl_management_token
        """With a token: ACLs on, deny by default, this token the management one."""

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
        argv = [
            self.binary, "agent", "-dev", "-node", self.node,
            "-bind", self.host, "-client", self.host,
            "-http-port", str(p.http), "-dns-port", str(p.dns),
            "-serf-lan-port", str(p.serf_lan), "-serf-wan-port", str(p.serf_wan),
            "-server-port", str(p.server), "-grpc-port", str(p.grpc),
        ]  # fmt: skip
        return argv + self._acl_flags()

    def _acl_flags(self) -> list[str]:
        if self.acl_management_token is None:
            return []
        config = agent_acl_config(self.acl_management_token, legacy=legacy_acl(self.binary))
        self.home.mkdir(parents=True, exist_ok=True)
        path = self.home / "acl.json"
        path.touch(mode=0o600)
        path.write_text(json.dumps(config))
        return ["-config-file", str(path)]

    def ready(self) -> bool:
        leader = http_json(f"{self.http_url}/v1/status/leader")
        return isinstance(leader, str) and bool(leader)

    def describe(self) -> dict[str, Any]:
        return {"http": self.http_url, "dns": self.dns_address, "pid": self.pid}


def legacy_acl(binary: str) -> bool:
    """True for Consul before 1.11, whose first token is ``acl.tokens.master``."""
    out = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=10).stdout
    found = re.search(r"Consul v(\d+)\.(\d+)", out)
    return found is not None and (int(found[1]), int(found[2])) < (1, 11)
