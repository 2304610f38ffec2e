"""A connection's socket without a socket: the aiohttp WebSocket, the asyncio
transport and its flow control as ``delivery.peer`` describes them, recording
what the gateway writes. ``socketless_connection`` builds a real ``Connection``
on them, for unit tests of the writer, the dispatcher and the hub."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import WSMsgType

from haws.common.logs import get_logger
from haws.gateway.delivery.connection import Connection
from haws.gateway.delivery.flusher import Flusher
from haws.gateway.delivery.send_queue import SendQueue
from haws.gateway.security.grants import ANONYMOUS, Principal
from haws.protocol.codec import JSON, Codec


def parse_frames(data: bytes) -> list[tuple[int, bytes]]:
    """(first byte, payload) of each unmasked frame in ``data``, as a client reads them."""
    out: list[tuple[int, bytes]] = []
    i = 0
    while i < len(data):
        first, length = data[i], data[i + 1] & 0x7F
        i += 2
        if length == 126:
            length = int.from_bytes(data[i : i + 2], "big")
            i += 2
        elif length == 127:
            length = int.from_bytes(data[i : i + 8], "big")
            i += 8
        out.append((first, data[i : i + length]))
        i += length
    return out


class FakeFlow:
    """The transport's flow control (aiohttp's request handler) and its writer's drain."""

    def __init__(self) -> None:
        self.writing_paused = False
        self._drained: asyncio.Future[None] | None = None

    async def drain(self) -> None:
        if self.writing_paused:
            self._drained = asyncio.get_running_loop().create_future()
            await self._drained

    def pause(self) -> None:
        self.writing_paused = True

    def resume(self) -> None:
        self.writing_paused = False
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)


class FakeTransport:
    def __init__(self) -> None:
        self.protocol = FakeFlow()
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = self.aborted = True

    def frames(self) -> list[dict[str, Any]]:
        """Every JSON frame written so far (close frames and markers left out)."""
        return [
            json.loads(payload)
            for data in self.writes
            if data != CLOSE_MARK
            for first, payload in parse_frames(data)
            if first != 0x88
        ]


CLOSE_MARK = b"<close>"
"""What ``FakeWs.close`` writes: the polite close, behind every frame before it."""


class FakeWs:
    def __init__(self, transport: FakeTransport) -> None:
        self.closed = False
        self.compress: int | bool = False
        self.close_codes: list[int] = []
        self.transport = transport

    async def send_frame(
        self, message: bytes, opcode: WSMsgType, compress: int | None = None
    ) -> None:
        raise AssertionError("uncompressed frames go to the transport")

    async def close(self, *, code: int = 1000, message: bytes = b"", drain: bool = True) -> bool:
        self.closed = True
        self.close_codes.append(code)
        self.transport.write(CLOSE_MARK)
        return True


def socketless_connection(
    *,
    session: str = "s",
    user: str | None = None,
    codec: Codec = JSON,
    batch: bool = False,
    frames: int = 100,
    grace: float = 5.0,
    principal: Principal = ANONYMOUS,
    flusher: Flusher | None = None,
) -> tuple[Connection, FakeTransport, FakeWs]:
    transport = FakeTransport()
    ws = FakeWs(transport)
    conn = Connection(
        ws,
        transport,
        codec,
        flow=transport.protocol,
        drain=transport.protocol,
        session=session,
        user=user,
        batch=batch,
        queue=SendQueue(frames, 1 << 20),
        log=get_logger("test"),
        flusher=flusher or Flusher(get_logger("test")),
        slow_grace=grace,
        principal=principal,
    )
    return conn, transport, ws
