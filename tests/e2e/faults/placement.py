"""The real components, each on a host of its own in a private ``Network``.

Hosts: ``consul``, ``nats-1..n`` (one JetStream cluster, routes over the
bridge, R3 stream and KV when there are 3), ``gw-1..n``, ``replay-1..n``,
``presence-1..n`` and ``client`` (the test's own event loop enters it, so every
client reaches the gateways over the bridge, as from another machine). Each
binds its host's address, never 127.0.0.1, and the same ports on every host
(each host is a namespace of its own, so nothing collides).

Gateway ``i`` is given one NATS node (``attach``) and learns the others from
the cluster's INFO, so the node it starts on is chosen, and it can move.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from haws.cluster import ConsulAgent, Gateway, HawsService, NatsServer
from haws.cluster.component import Component, wait_ready_all
from haws.cluster.consul import ConsulPorts
from haws.cluster.network import Host, Network
from haws.cluster.process import stop_all
from haws.cluster.services import backend_service

NATS_PORT, NATS_MONITOR, NATS_ROUTES = 4222, 8222, 6222
GATEWAY_PORT, SERVICE_HTTP = 8080, 8090
CONSUL_PORTS = ConsulPorts(
    http=8500, dns=8600, serf_lan=8301, serf_wan=8302, server=8300, grpc=8502
)


@dataclass(frozen=True)
class FaultSpec:
    nats: int = 3
    gateways: int = 3
    replay: int = 1
    presence: int = 0
    attach: tuple[int, ...] = ()
    """NATS node (0-based) each gateway starts on; default round robin."""
    gateway_args: tuple[str, ...] = ()
    presence_args: tuple[str, ...] = ()

    @property
    def replicas(self) -> int | None:
        return min(self.nats, 3) if self.nats > 1 else None


class FaultCluster:
    def __init__(self, net: Network, data_dir: Path, spec: FaultSpec) -> None:
        self.net = net
        self.spec = spec
        self.data_dir = data_dir
        self.client = net.add_host("client")
        self.hosts: dict[str, Host] = {"client": self.client}
        consul_host = self._host("consul")
        self.consul = ConsulAgent(data_dir, ports=CONSUL_PORTS, host=consul_host.address)
        self._place(self.consul, consul_host)
        nats_hosts = [self._host(f"nats-{i}") for i in range(1, spec.nats + 1)]
        self.nats: list[NatsServer] = []
        for i, host in enumerate(nats_hosts):
            routes = [
                f"nats://{h.address}:{NATS_ROUTES}" for j, h in enumerate(nats_hosts) if j != i
            ]
            server = NatsServer(
                data_dir,
                name=host.name,
                port=NATS_PORT,
                http_port=NATS_MONITOR,
                cluster_port=NATS_ROUTES if spec.nats > 1 else None,
                routes=routes,
                host=host.address,
            )
            self._place(server, host)
            self.nats.append(server)
        all_nats = ",".join(s.url for s in self.nats)
        self.replay = [self._backend("replay", i, all_nats) for i in range(1, spec.replay + 1)]
        self.presence = [
            self._backend("presence", i, all_nats, spec.presence_args)
            for i in range(1, spec.presence + 1)
        ]
        self.gateways: list[Gateway] = []
        for i in range(1, spec.gateways + 1):
            host = self._host(f"gw-{i}")
            attach = spec.attach[i - 1] if spec.attach else (i - 1) % spec.nats
            gateway = Gateway(
                data_dir,
                name=host.name,
                nats_url=self.nats[attach].url,
                consul_http=self.consul.http_url,
                port=GATEWAY_PORT,
                stream_replicas=spec.replicas,
                extra_args=spec.gateway_args,
                host=host.address,
            )
            self._place(gateway, host)
            self.gateways.append(gateway)

    def _host(self, name: str) -> Host:
        host = self.net.add_host(name)
        self.hosts[name] = host
        return host

    @staticmethod
    def _place(component: Component, host: Host) -> None:
        component.netns = host.netns

    def _backend(
        self, command: str, index: int, nats_url: str, args: Sequence[str] = ()
    ) -> HawsService:
        host = self._host(f"{command}-{index}")
        service = backend_service(
            self.data_dir,
            command,
            name=host.name,
            nats_url=nats_url,
            http_port=SERVICE_HTTP,
            stream_replicas=self.spec.replicas,
            extra_args=args,
            host=host.address,
        )
        self._place(service, host)
        return service

    def stages(self) -> list[list[Component]]:
        return [
            [self.consul, *self.nats],
            [*self.replay, *self.presence],
            [*self.gateways],
        ]

    def start(self, timeout: float) -> None:
        """Stage by stage under one deadline; call it with the thread in the client host."""
        deadline = time.monotonic() + timeout
        try:
            for members in self.stages():
                for member in members:
                    member.spawn()
                wait_ready_all(members, deadline - time.monotonic())
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        stop_all([g.process for g in self.gateways], 15.0)
        stop_all([s.process for s in [*self.replay, *self.presence]], 10.0)
        stop_all([s.process for s in self.nats], 10.0)
        stop_all([self.consul.process], 10.0)

    def gateway(self, name: str) -> Gateway:
        return next(g for g in self.gateways if g.name == name)

    def nats_hosts(self) -> list[str]:
        return [s.name for s in self.nats]
