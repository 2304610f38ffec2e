"""haws's own services (gateway, presence, replay) as child processes.

Each runs as ``python -m haws.cli.main <command> ...`` with the interpreter we run
under, so the children import the same editable install. The launcher is
generic: a command, its flags and an HTTP readiness URL; only the gateway adds
what is particular to it (the WebSocket URL).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from haws.cluster.component import Component
from haws.cluster.ports import LOOPBACK, free_port
from haws.cluster.probe import http_ok

SERVICE_MODULES = {
    "gateway": "haws.gateway.__main__",
    "presence": "haws.presence.__main__",
    "replay": "haws.replay.__main__",
    "api": "haws.api.__main__",
}


def service_available(command: str) -> bool:
    """True when the service's ``__main__`` module is installed (it may not be written yet)."""
    try:
        return importlib.util.find_spec(SERVICE_MODULES[command]) is not None
    except ModuleNotFoundError:
        return False


class HawsService(Component):
    """``haws <command> <args>``; ready when ``GET /ready`` on its HTTP port is 200."""

    def __init__(
        self,
        data_dir: Path,
        *,
        name: str,
        command: str,
        args: Sequence[str],
        http_port: int,
        env: Mapping[str, str] | None = None,
        host: str = LOOPBACK,
    ) -> None:
        super().__init__(name, data_dir, env={"PYTHONUNBUFFERED": "1", **(env or {})})
        self.host = host
        self.command = command
        self.args = list(args)
        self.http_port = http_port

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "haws.cli.main", self.command, *self.args]

    def ready(self) -> bool:
        return http_ok(f"{self.http_url}/ready")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "http": self.http_url, "pid": self.pid}


def _common_flags(nats_url: str, stream_replicas: int | None) -> list[str]:
    flags = ["--nats-url", nats_url]
    if stream_replicas is not None:
        flags += ["--stream-replicas", str(stream_replicas)]
    return flags


class Gateway(HawsService):
    """A gateway node: ``/ws`` and HTTP on one port, registered in Consul by itself."""

    def __init__(
        self,
        data_dir: Path,
        *,
        name: str,
        nats_url: str,
        consul_http: str,
        port: int | None = None,
        stream_replicas: int | None = None,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        host: str = LOOPBACK,
    ) -> None:
        port = port or free_port()
        args = ["--host", host, "--port", str(port), "--node", name]
        args += _common_flags(nats_url, stream_replicas)
        args += ["--consul-http", consul_http, *extra_args]
        super().__init__(
            data_dir, name=name, command="gateway", args=args, http_port=port, env=env, host=host
        )

    @property
    def port(self) -> int:
        return self.http_port

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.http_port}/ws"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.ws_url, "http": self.http_url, "pid": self.pid}


class ApiService(HawsService):
    """A server API replica; its key travels in the environment, not the process list."""

    def __init__(
        self,
        data_dir: Path,
        *,
        name: str,
        nats_url: str,
        consul_http: str,
        key: str,
        stream_replicas: int | None = None,
        http_port: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        port = http_port or free_port()
        args = ["--http-host", LOOPBACK, "--http-port", str(port), "--name", name]
        args += [*_common_flags(nats_url, stream_replicas), "--consul-http", consul_http]
        super().__init__(
            data_dir,
            name=name,
            command="api",
            args=args,
            http_port=port,
            env={**(env or {}), "HAWS_API_KEYS": key},
        )
        self.key = key

    @property
    def url(self) -> str:
        """The HTTP API's base URL (methods are ``POST <url>/<method>``)."""
        return f"{self.http_url}/api/v1"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.url, "http": self.http_url, "pid": self.pid}


def backend_service(
    data_dir: Path,
    command: str,
    *,
    name: str,
    nats_url: str,
    http_port: int | None = None,
    stream_replicas: int | None = None,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    host: str = LOOPBACK,
) -> HawsService:
    """A presence or replay replica: NATS only, HTTP for health."""
    port = http_port or free_port()
    args = ["--http-host", host, "--http-port", str(port)]
    args += [*_common_flags(nats_url, stream_replicas), *extra_args]
    return HawsService(
        data_dir, name=name, command=command, args=args, http_port=port, env=env, host=host
    )
