"""``linger_close``: read and discard until the peer closes or the bound, then close."""

from __future__ import annotations

import asyncio

from haws.gateway.delivery.linger import linger_close
from tests.support.waiting import eventually


class Original(asyncio.Protocol):
    def __init__(self) -> None:
        self.data: list[bytes] = []
        self.lost = False

    def data_received(self, data: bytes) -> None:
        self.data.append(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True


class FakeTransport(asyncio.Transport):
    def __init__(self, protocol: asyncio.BaseProtocol) -> None:
        super().__init__()
        self._protocol = protocol
        self.closed_at: float | None = None
        self.reading_resumed = False

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def resume_reading(self) -> None:
        self.reading_resumed = True

    def is_closing(self) -> bool:
        return self.closed_at is not None

    def close(self) -> None:
        if self.closed_at is None:
            self.closed_at = asyncio.get_running_loop().time()
            self._protocol.connection_lost(None)


async def test_what_arrives_while_lingering_is_discarded_and_eof_ends_it_at_once() -> None:
    original = Original()
    transport = FakeTransport(original)
    loop = asyncio.get_running_loop()
    started = loop.time()
    lingering = asyncio.ensure_future(linger_close(transport, 5.0))
    await eventually(lambda: transport.get_protocol() is not original, timeout=2.0)
    discard = transport.get_protocol()
    assert isinstance(discard, asyncio.Protocol)
    discard.data_received(b"x" * 1000)
    assert discard.eof_received() is False
    await asyncio.wait_for(lingering, 1.0)
    assert original.data == []
    assert transport.reading_resumed
    assert transport.closed_at is not None
    assert transport.closed_at - started < 1.0
    assert original.lost, "aiohttp's protocol must hear the end"


async def test_a_peer_that_never_closes_is_closed_after_the_bound() -> None:
    original = Original()
    transport = FakeTransport(original)
    started = asyncio.get_running_loop().time()
    await asyncio.wait_for(linger_close(transport, 0.2), 2.0)
    assert transport.closed_at is not None
    assert 0.2 <= transport.closed_at - started < 1.5
    assert original.lost


async def test_a_closing_transport_is_left_alone() -> None:
    transport = FakeTransport(Original())
    transport.close()
    closed_at = transport.closed_at
    await linger_close(transport, 5.0)
    assert transport.closed_at == closed_at


def test_the_installed_aiohttp_still_has_the_private_close_hook() -> None:
    """``LingeringWebSocketResponse`` overrides these two; a release without them must fail here."""
    import inspect

    from aiohttp import web

    hook = getattr(web.WebSocketResponse, "_close_transport", None)
    assert callable(hook), "aiohttp no longer has WebSocketResponse._close_transport"
    assert list(inspect.signature(hook).parameters) == ["self"]
    assert web.WebSocketResponse()._req is None  # set by prepare(); read by the override
