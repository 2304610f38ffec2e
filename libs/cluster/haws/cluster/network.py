"""A private network of hosts for fault tests: one namespace per host, one bridge.

Every host is a network namespace with one interface (``eth0``) and one private
address, its other end plugged into a bridge that lives in a namespace of its
own (the "switch"), so nothing is added to the root namespace: no interface,
no route, no firewall rule. Faults are what these kernels allow without
``tc netem``: packets silently dropped between two hosts (``cut``), or between
one host and everyone (``isolate``), by ``iptables`` DROP rules in the hosts'
own namespaces (no reset, no ICMP: to both ends it looks like a dead path,
as in Jepsen's partitions); ``heal`` removes every rule.

Names: every namespace of one network starts with its ``prefix`` (``hf`` and
six random hex digits by default), so ``close`` and ``remove_leftovers`` touch
only this run's own. Call ``close`` in a ``finally`` (or use the network as a
context manager): it deletes the namespaces even when the test failed.
"""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from haws.cluster.errors import ClusterError
from haws.cluster.netns import ip, namespaces, run_in

SUBNET = ipaddress.ip_network("10.77.0.0/24")
"""Private, and only ever configured inside this network's own namespaces."""
CHAIN = "HAWSFAULT"
IPTABLES = ("iptables", "-w", "5")


@dataclass(frozen=True, slots=True)
class Host:
    name: str
    netns: str
    address: str
    port_index: int
    """Its interface on the switch is ``p<port_index>``."""


@dataclass
class Network:
    prefix: str = field(default_factory=lambda: f"hf{uuid.uuid4().hex[:6]}")
    hosts: dict[str, Host] = field(default_factory=dict)
    cuts: set[frozenset[str]] = field(default_factory=set)
    isolated: set[str] = field(default_factory=set)
    _switch: str | None = None

    @property
    def switch(self) -> str:
        if self._switch is None:
            raise ClusterError("network not created: call create() first")
        return self._switch

    def create(self) -> Self:
        """The switch namespace with its bridge."""
        name = f"{self.prefix}-sw"
        ip("netns", "add", name)
        self._switch = name
        ip("link", "set", "lo", "up", netns=name)
        ip("link", "add", "br0", "type", "bridge", netns=name)
        ip("link", "set", "br0", "up", netns=name)
        return self

    def add_host(self, name: str) -> Host:
        """A new host plugged into the switch, with the next free address."""
        if name in self.hosts:
            raise ClusterError(f"host {name} exists")
        index = len(self.hosts) + 1
        address = str(SUBNET.network_address + index + 1)
        netns = f"{self.prefix}-{name}"
        ip("netns", "add", netns)
        host = Host(name, netns, address, index)
        self.hosts[name] = host
        port = f"p{index}"
        ip("link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", netns,
           netns=self.switch)  # fmt: skip
        ip("link", "set", port, "master", "br0", netns=self.switch)
        ip("link", "set", port, "up", netns=self.switch)
        ip("link", "set", "lo", "up", netns=netns)
        ip("addr", "add", f"{address}/{SUBNET.prefixlen}", "dev", "eth0", netns=netns)
        ip("link", "set", "eth0", "up", netns=netns)
        run_in(netns, [*IPTABLES, "-N", CHAIN])
        run_in(netns, [*IPTABLES, "-A", "INPUT", "-j", CHAIN])
        run_in(netns, [*IPTABLES, "-A", "OUTPUT", "-j", CHAIN])
        return host

    def _drop(self, on: Host, *rule: str) -> None:
        run_in(on.netns, [*IPTABLES, "-A", CHAIN, *rule, "-j", "DROP"])

    def cut(self, a: str, b: str) -> None:
        """Drop every packet between hosts ``a`` and ``b``, both ways (rules on ``a``)."""
        pair = frozenset((a, b))
        if pair in self.cuts:
            return
        # One end's rules drop both directions (its chain sees input and output):
        # half the commands, so the cut lands at one moment.
        on, peer = self.hosts[a], self.hosts[b]
        self._drop(on, "-s", peer.address)
        self._drop(on, "-d", peer.address)
        self.cuts.add(pair)

    def isolate(self, host: str) -> None:
        """Drop every packet between ``host`` and every other host (it keeps loopback)."""
        if host in self.isolated:
            return
        h = self.hosts[host]
        self._drop(h, "-i", "eth0")
        self._drop(h, "-o", "eth0")
        self.isolated.add(host)

    def partition(self, side: list[str], other: list[str]) -> None:
        """``cut`` every host of ``side`` from every host of ``other``."""
        for a in side:
            for b in other:
                self.cut(a, b)

    def heal(self) -> None:
        """Remove every cut and isolation."""
        for host in self.hosts.values():
            run_in(host.netns, [*IPTABLES, "-F", CHAIN])
        self.cuts.clear()
        self.isolated.clear()

    def close(self) -> None:
        """Delete every namespace of this network (their processes must be gone)."""
        self.remove_leftovers(self.prefix)
        self.hosts.clear()
        self._switch = None

    @staticmethod
    def remove_leftovers(prefix: str) -> list[str]:
        """Delete the namespaces whose names start with ``prefix-`` (one run's own)."""
        if len(prefix) < 4:
            raise ClusterError("refusing a prefix that short: it could match others' names")
        removed = [n for n in namespaces() if n.startswith(prefix + "-")]
        for name in removed:
            ip("netns", "del", name, check=False)
        return removed

    def __enter__(self) -> Self:
        return self.create()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
