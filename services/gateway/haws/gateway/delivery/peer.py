"""What a connection needs of its socket, as seams over public APIs only.

``WebSocketSide`` is the part of aiohttp's ``WebSocketResponse`` the writer uses
(compressed frames and the polite close); ``TransportSide`` the asyncio write
transport the flush pass writes raw frames to; ``FlowControl`` the transport's
protocol, whose ``writing_paused`` says the socket buffer is above its
high-water mark; ``Drain`` waits until it is below again (aiohttp's request
writer, ``AbstractStreamWriter.drain``). Tests pass their own of each.
"""

from __future__ import annotations

from typing import Protocol

from aiohttp import WSMsgType


class WebSocketSide(Protocol):
    @property
    def closed(self) -> bool: ...

    @property
    def compress(self) -> int | bool: ...

    async def send_frame(
        self, message: bytes, opcode: WSMsgType, compress: int | None = None
    ) -> None: ...

    async def close(self, *, code: int = ..., message: bytes = ..., drain: bool = ...) -> bool: ...


class FlowControl(Protocol):
    @property
    def writing_paused(self) -> bool: ...


class TransportSide(Protocol):
    def write(self, data: bytes) -> None: ...

    def is_closing(self) -> bool: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


class Drain(Protocol):
    async def drain(self) -> None:
        """Until the transport's buffer is below its low-water mark (returns at
        once when writing is not paused)."""
        ...
