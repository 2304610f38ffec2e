"""A service's listening port and its default name, decided once at start-up.

``port 0`` in settings means "any free port"; the service then names itself
after the port it got (``host-port``), so several replicas on one machine have
distinct names without configuration.
"""

from __future__ import annotations

import dataclasses
import socket
from typing import Any, TypeVar

S = TypeVar("S")


def pick_free_port(host: str = "127.0.0.1") -> int:
    """A port free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def with_free_port(settings: S, port_field: str, host: str) -> S:
    """``settings`` with ``port_field`` set to a free port when it is 0."""
    if getattr(settings, port_field) != 0:
        return settings
    changes: dict[str, Any] = {port_field: pick_free_port(host)}
    return dataclasses.replace(settings, **changes)  # type: ignore[type-var]


def default_name(explicit: str, port: int) -> str:
    return explicit or f"{socket.gethostname()}-{port}"
