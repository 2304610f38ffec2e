"""haws as it runs for real: nats-server, Consul, gateways, replay and presence.

NATS and Consul are started once per invocation (``HawsInfra``) and shared;
every scenario gets fresh gateway processes (``HawsStack``), so one scenario's
connections, topics and memory never leak into the next one's figures. All of
them run on the server core: the broker is part of the system under test.

A stack runs a presence replica by default, as ``haws up`` and compose do (every
``hello`` then claims its session); ``presence=False`` is the configuration
without it, the one the bench measured before issue 14.
"""

from __future__ import annotations

import dataclasses
import importlib
import itertools
from collections.abc import Sequence
from pathlib import Path

from bench.loadgen.dialects import Dialect
from bench.machine import Machine
from bench.systems import Running, Skipped
from haws.cluster import (
    ClusterError,
    Component,
    ConsulAgent,
    Gateway,
    NatsServer,
    service_available,
)
from haws.cluster.component import wait_ready_all
from haws.cluster.services import backend_service

_names = itertools.count(1)

PER_MEMBER_PRESENCE = ("--presence-counts-from", "0")
"""Presence flags of every bench stack: join/leave per member at any topic size."""
UNLIMITED = {
    "max_connections": "0",
    "max_connections_per_ip": "0",
    "command_rate": "0",
}
"""Abuse limits off: every bench client comes from 127.0.0.1 and one publisher sends
thousands of pubs a second. The figures measure the path, not the protections."""


def bench_flags() -> list[str]:
    """``UNLIMITED`` as flags, for the settings this gateway version has."""
    try:
        settings = importlib.import_module("haws.gateway.settings").GatewaySettings
        known = {f.name for f in dataclasses.fields(settings)}
    except (ImportError, AttributeError, TypeError):
        return []
    return [f"--{k.replace('_', '-')}={v}" for k, v in UNLIMITED.items() if k in known]


class HawsInfra:
    """The shared broker and registry of one bench run."""

    def __init__(self, data_dir: Path, machine: Machine) -> None:
        self.machine = machine
        self.data_dir = data_dir
        try:
            self.nats = NatsServer(data_dir, name="nats")
            self.consul = ConsulAgent(data_dir, name="consul", node="haws-bench")
        except ClusterError as exc:
            raise Skipped(str(exc)) from None
        self.started = False

    def start(self) -> None:
        try:
            self.nats.spawn()
            self.consul.spawn()
            wait_ready_all([self.nats, self.consul], 60.0)
        except ClusterError as exc:
            self.stop()
            raise Skipped(f"nats/consul did not start: {str(exc).splitlines()[0]}") from None
        for component in (self.nats, self.consul):
            self.machine.pin_server(component.pid)
        self.started = True

    def pids(self) -> list[int]:
        return [c.pid for c in (self.nats, self.consul) if c.pid is not None and c.alive]

    def stop(self) -> None:
        for component in (self.consul, self.nats):
            component.stop(5.0)


class HawsStack:
    """``gateways`` gateway nodes (and a replay replica) on the shared infra."""

    def __init__(
        self,
        infra: HawsInfra,
        *,
        gateways: int = 1,
        replay: bool = False,
        presence: bool = True,
        extra_args: Sequence[str] = (),
        presence_args: Sequence[str] = (),
    ) -> None:
        self.infra = infra
        self.presence = presence
        run = next(_names)
        self.gateways = [
            Gateway(
                infra.data_dir,
                name=f"gw-{run}-{i}",
                nats_url=infra.nats.url,
                consul_http=infra.consul.http_url,
                extra_args=[*bench_flags(), *extra_args],
            )
            for i in range(1, gateways + 1)
        ]
        self.backends: list[Component] = []
        if replay:
            if not service_available("replay"):
                raise Skipped("the replay service is not installed")
            self.backends.append(
                backend_service(
                    infra.data_dir, "replay", name=f"replay-{run}", nats_url=infra.nats.url
                )
            )
        if presence:
            if not service_available("presence"):
                raise Skipped("the presence service is not installed")
            self.backends.append(
                backend_service(
                    infra.data_dir,
                    "presence",
                    name=f"presence-{run}",
                    nats_url=infra.nats.url,
                    # Per-member join/leave at any size, as the scenarios count them
                    # (issue 14's counts-only mode would hide them on a large topic).
                    extra_args=[*PER_MEMBER_PRESENCE, *presence_args],
                )
            )

    @property
    def components(self) -> list[Component]:
        return [*self.backends, *self.gateways]

    def start(self) -> None:
        try:
            for component in self.backends:
                component.spawn()
            wait_ready_all(self.backends, 30.0)
            for gateway in self.gateways:
                gateway.spawn()
            wait_ready_all(self.gateways, 30.0)
        except ClusterError as exc:
            self.stop()
            raise Skipped(f"haws did not start: {str(exc).splitlines()[0]}") from None
        for component in self.components:
            self.infra.machine.pin_server(component.pid)

    def pids(self) -> list[int]:
        own = [c.pid for c in self.components if c.pid is not None and c.alive]
        return own + self.infra.pids()

    def gateway_urls(self) -> list[str]:
        return [f"ws://127.0.0.1:{g.port}" for g in self.gateways]

    def running(self, name: str, dialect: Dialect) -> Running:
        pid = self.gateways[0].pid
        if pid is None:
            raise Skipped("gateway not started")
        return Running(
            name=name,
            dialect=dialect,
            urls=self.gateway_urls(),
            rss_pid=pid,
            server_pids=self.pids,
        )

    def stop(self) -> None:
        # No drain wait: the load generator has closed its clients already.
        for component in reversed(self.components):
            component.stop(3.0)
