"""Free loopback ports, chosen by the kernel, never hard-coded.

The kernel hands out a free port when we bind port 0; we read it and close the
socket so the child can bind it. Between our close and the child's bind another
program could take it: rare on loopback, and a child that loses the race fails
fast with "address in use" in its log.
"""

from __future__ import annotations

import contextlib
import socket

LOOPBACK = "127.0.0.1"

_handed_out: set[tuple[str, int]] = set()
"""Ports this process already gave a component: the kernel may offer a released one
again, and two components of one cluster (a NATS server and a service's HTTP port)
then raced for it."""


def free_port(host: str = LOOPBACK) -> int:
    """One port free for both TCP and UDP on ``host``."""
    return free_ports(1, host)[0]


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """``count`` distinct ports, each free for both TCP and UDP on ``host``.

    All sockets stay open until every port is chosen, so the kernel cannot hand
    the same port out twice. UDP is checked too because Consul binds its DNS and
    Serf ports on both protocols.
    """
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(tcp)
            tcp.bind((host, 0))
            port = int(tcp.getsockname()[1])
            if (host, port) in _handed_out:
                continue  # keep it held, so the kernel offers another
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            held.append(udp)
            try:
                udp.bind((host, port))
            except OSError:
                continue  # busy for UDP: keep the TCP socket held so it is not offered again
            ports.append(port)
            _handed_out.add((host, port))
    finally:
        for sock in held:
            with contextlib.suppress(OSError):
                sock.close()
    return ports
