"""Choosing a listening port before binding, for ``port 0`` in settings."""

from __future__ import annotations

import socket


def pick_free_port(host: str = "127.0.0.1") -> int:
    """A port free right now; a service with ``--port 0`` names itself after it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
