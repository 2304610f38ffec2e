"""HAProxy in front of the gateways, configured from the shared template.

The template in ``deploy/haproxy/haproxy.cfg.tmpl`` is the one docker compose
uses; here its ``${...}`` placeholders are filled from a dict, the result is
checked with ``haproxy -c`` and HAProxy runs in the foreground (``-db``).
"""

from __future__ import annotations

import csv
import io
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from haws.cluster.component import Component, find_binary
from haws.cluster.errors import ClusterError
from haws.cluster.ports import LOOPBACK, free_ports
from haws.cluster.probe import http_get, http_ok

# libs/cluster/haws/cluster/haproxy.py -> the repository root is four levels up.
TEMPLATE = Path(__file__).resolve().parents[4] / "deploy" / "haproxy" / "haproxy.cfg.tmpl"
BACKEND = "gateways"


def render_config(values: Mapping[str, str], template: Path = TEMPLATE) -> str:
    """The template with every ``${NAME}`` replaced; a missing value is an error."""
    try:
        return Template(template.read_text()).substitute(values)
    except KeyError as exc:
        raise ClusterError(f"{template}: no value for placeholder {exc}") from None
    except OSError as exc:
        raise ClusterError(f"cannot read the HAProxy template: {exc}") from None


@dataclass(frozen=True, slots=True)
class ServerState:
    """One backend server slot as HAProxy's stats CSV reports it."""

    slot: str
    addr: str
    status: str
    check_status: str

    @property
    def up(self) -> bool:
        """HAProxy sends new connections here ("UP", or "UP 1/2" while a check fails)."""
        return self.status.startswith("UP")

    @property
    def checked_up(self) -> bool:
        """UP and HAProxy's own last health check passed (not just assumed at start)."""
        return self.up and self.check_status.startswith("L7OK")


def check_config(path: Path, binary: str | None = None) -> None:
    """Run ``haproxy -c``; raise with HAProxy's own words when the file is invalid."""
    result = subprocess.run(
        [binary or find_binary("haproxy"), "-c", "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if result.returncode != 0:
        raise ClusterError(f"invalid HAProxy config {path}:\n{result.stdout}{result.stderr}")


class HAProxy(Component):
    """HAProxy resolving gateways through Consul DNS.

    Ready when the frontend answers its monitor URI and at least ``expect_servers``
    gateways are UP in the backend with a passed health check (not only the UP
    HAProxy assumes on resolution), so the URL works as soon as startup returns.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        consul_dns: str,
        expect_servers: int = 0,
        name: str = "haproxy",
        port: int | None = None,
        stats_port: int | None = None,
        template: Path = TEMPLATE,
        binary: str | None = None,
    ) -> None:
        super().__init__(name, data_dir)
        chosen = iter(free_ports(2))
        self.port = port or next(chosen)
        self.stats_port = stats_port or next(chosen)
        self.consul_dns = consul_dns
        self.expect_servers = expect_servers
        self.template = template
        self.binary = binary or find_binary("haproxy")

    @property
    def config_path(self) -> Path:
        return self.home / "haproxy.cfg"

    @property
    def http_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{LOOPBACK}:{self.port}/ws"

    @property
    def stats_url(self) -> str:
        return f"http://{LOOPBACK}:{self.stats_port}/"

    def values(self) -> dict[str, str]:
        return {
            "HAWS_HAPROXY_BIND": f"{LOOPBACK}:{self.port}",
            "HAWS_HAPROXY_STATS_BIND": f"{LOOPBACK}:{self.stats_port}",
            "HAWS_CONSUL_DNS": self.consul_dns,
        }

    def prepare(self) -> None:
        super().prepare()
        self.config_path.write_text(render_config(self.values(), self.template))
        check_config(self.config_path, self.binary)

    def argv(self) -> list[str]:
        return [self.binary, "-f", str(self.config_path), "-db"]

    def servers(self) -> list[ServerState]:
        """Every gateway server slot, from the stats CSV; empty when HAProxy does not answer."""
        reply = http_get(f"{self.stats_url};csv")
        if reply is None or reply[0] != 200:
            return []
        rows = csv.DictReader(io.StringIO(reply[1].decode().lstrip("# ")))
        return [
            ServerState(
                slot=row.get("svname") or "",
                addr=row.get("addr") or "",
                status=row.get("status") or "",
                check_status=row.get("check_status") or "",
            )
            for row in rows
            if row.get("pxname") == BACKEND and row.get("svname") not in ("FRONTEND", "BACKEND")
        ]

    def servers_up(self) -> int:
        """How many gateway servers HAProxy sends new connections to right now."""
        return sum(1 for server in self.servers() if server.up)

    def server_at(self, port: int, host: str = LOOPBACK) -> ServerState | None:
        """The slot HAProxy resolved to ``host:port``, if any (a gateway, by its port)."""
        addr = f"{host}:{port}"
        return next((s for s in self.servers() if s.addr == addr), None)

    def sees_up(self, port: int, host: str = LOOPBACK) -> bool:
        """True once HAProxy resolved ``host:port`` and its own check passed there."""
        server = self.server_at(port, host)
        return server is not None and server.checked_up

    def ready(self) -> bool:
        if not http_ok(f"{self.http_url}/haproxy-health"):
            return False
        if self.expect_servers <= 0:
            return True
        return sum(1 for s in self.servers() if s.checked_up) >= self.expect_servers

    def describe(self) -> dict[str, Any]:
        return {"url": self.ws_url, "http": self.http_url, "stats": self.stats_url, "pid": self.pid}
