"""A service's port is bound once and kept: nobody can take it before the server uses it."""

from __future__ import annotations

import dataclasses
import socket

import pytest

from haws.common.ports import bind_listener, with_port


@dataclasses.dataclass(frozen=True)
class Settings:
    port: int = 0


def test_port_zero_binds_a_free_port_and_names_it_in_the_settings() -> None:
    with bind_listener("127.0.0.1", 0) as listener:
        settings = with_port(Settings(), "port", listener)
        assert settings.port == listener.getsockname()[1] > 0


def test_nobody_else_can_bind_the_port_while_it_waits_for_the_server() -> None:
    with bind_listener("127.0.0.1", 0) as listener:
        port = listener.getsockname()[1]
        with pytest.raises(OSError, match="in use"):
            bind_listener("127.0.0.1", port).close()
        with socket.socket() as other:
            other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            with pytest.raises(OSError, match="in use"):
                other.bind(("127.0.0.1", port))


def test_a_taken_port_fails_at_once() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        with pytest.raises(OSError, match="in use"):
            bind_listener("127.0.0.1", squatter.getsockname()[1])
