"""A service's listening socket and its default name, decided once at start-up.

The socket is bound once, first thing, and the very same socket is later handed
to the HTTP server (``health_http.serve``): no other process can take the port
between the choice and the use, as it could when a free port was found by
binding and releasing it. ``port 0`` in settings means "any free port"; the
service then names itself after the port it got (``host-port``), so several
replicas on one machine have distinct names without configuration.
"""

from __future__ import annotations

import dataclasses
import socket
from typing import Any, TypeVar

S = TypeVar("S")


BACKLOG = 128
"""Connections the kernel holds for the server before it accepts them (aiohttp's default)."""


def bind_listener(host: str, port: int) -> socket.socket:
    """A TCP socket listening on ``host:port`` (0: any free port), for the server to
    accept on later. Listening at once matters: Linux lets another socket bind a
    port taken by one that is only bound (both with ``SO_REUSEADDR``).

    ``host`` is one address (or a name, bound at its first address); ``""``
    means every IPv4 interface, as ``0.0.0.0``. Raises ``OSError`` when the
    port is taken, before anything else has started.
    """
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        # As aiohttp's TCPSite did: a restarted node gets its port back at once.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # as asyncio does
        sock.bind(address)
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


def bound_port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def with_port(settings: S, port_field: str, sock: socket.socket) -> S:
    """``settings`` with ``port_field`` set to the port ``sock`` is bound to."""
    port = bound_port_of(sock)
    if getattr(settings, port_field) == port:
        return settings
    changes: dict[str, Any] = {port_field: port}
    return dataclasses.replace(settings, **changes)  # type: ignore[type-var]


def default_name(explicit: str, port: int) -> str:
    return explicit or f"{socket.gethostname()}-{port}"
