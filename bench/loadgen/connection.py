"""One raw WebSocket client connection as an ``asyncio.Protocol``.

The HTTP upgrade is written by hand; after it every received chunk is split
into frames and handed to the connection's ``Sink`` in one call. Pings are
answered here; a close frame is echoed and the socket closed.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import time
from typing import Protocol, cast
from urllib.parse import urlsplit

from bench.loadgen import frames
from bench.loadgen.frames import FrameReader
from bench.loadgen.scanner import MsgScanner

MAX_HANDSHAKE_BYTES = 16384


class HandshakeError(Exception):
    """The server did not switch protocols."""


class Sink(Protocol):
    """What receives a connection's frames (a subscriber, a publisher)."""

    def on_frames(self, conn: WsConnection, received: list[tuple[int, bytes]], now: int) -> None:
        """Data frames (text, binary) of one chunk; ``now`` is ``monotonic_ns`` at arrival."""
        ...

    def on_closed(self, conn: WsConnection) -> None:
        """The socket is gone (``conn.close_code`` says how, None when cut)."""
        ...


class WsConnection(asyncio.Protocol):
    __slots__ = (
        "_handshake",
        "_reader",
        "_request",
        "_tail",
        "close_code",
        "closed",
        "opened",
        "scanner",
        "sink",
        "transport",
    )

    def __init__(self, sink: Sink, host: str, port: int, path: str, subprotocol: str | None):
        loop = asyncio.get_running_loop()
        self.sink = sink
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.close_code: int | None = None
        self._reader = FrameReader()
        self._handshake = b""
        self._tail = b""
        self.scanner: MsgScanner | None = None
        """Set by a subscriber: its topic's msg frames are counted in the raw bytes."""
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if subprotocol:
            lines.append(f"Sec-WebSocket-Protocol: {subprotocol}")
        self._request = ("\r\n".join(lines) + "\r\n\r\n").encode()

    @classmethod
    async def open(
        cls, sink: Sink, url: str, subprotocol: str | None, *, timeout: float = 10.0
    ) -> WsConnection:
        """Connect and upgrade ``url`` (``ws://host:port/path?query``)."""
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            _, conn = await loop.create_connection(
                lambda: cls(sink, host, port, path, subprotocol), host, port
            )
            try:
                await conn.opened
            except BaseException:
                conn.abort()
                raise
        return conn

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = tcp = cast(asyncio.Transport, transport)
        sock = tcp.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        tcp.write(self._request)

    def data_received(self, data: bytes) -> None:
        if self.opened.done():
            scanner = self.scanner
            if scanner is not None and not self._reader.pending:
                if self._tail:
                    data = self._tail + data
                done, others = scanner.scan(data, time.monotonic_ns())
                self._tail = data[done:]
                data = others
            received = self._reader.feed(data) if data else []
            if received:
                self._dispatch(received)
            return
        self._handshake += data
        end = self._handshake.find(b"\r\n\r\n")
        if end < 0:
            if len(self._handshake) > MAX_HANDSHAKE_BYTES:
                self._fail(HandshakeError("no end of HTTP headers"))
            return
        status = self._handshake[: self._handshake.find(b"\r\n")]
        rest = self._handshake[end + 4 :]
        self._handshake = b""
        if b" 101 " not in status + b" ":
            self._fail(HandshakeError(f"upgrade refused: {status.decode(errors='replace')}"))
            return
        self.opened.set_result(None)
        if rest:
            self.data_received(rest)

    def _dispatch(self, received: list[tuple[int, bytes]]) -> None:
        data: list[tuple[int, bytes]] = []
        for item in received:
            opcode = item[0]
            if opcode & 0x8:
                self._control(opcode, item[1])
            else:
                data.append(item)
        if data:
            self.sink.on_frames(self, data, time.monotonic_ns())

    def _control(self, opcode: int, payload: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if opcode == frames.PING:
            transport.write(frames.client_frame(frames.PONG, payload))
        elif opcode == frames.CLOSE:
            self.close_code = frames.close_code_of(payload)
            transport.write(frames.close_frame(self.close_code if self.close_code < 5000 else 1000))
            transport.close()

    def _fail(self, exc: BaseException) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc)
        self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionResetError("closed during the upgrade"))
        if not self.closed.done():
            self.closed.set_result(None)
        self.sink.on_closed(self)

    def send(self, frame: bytes) -> None:
        """Write an already framed message (see ``frames.client_frame``)."""
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(frame)

    def send_text(self, payload: bytes) -> None:
        self.send(frames.client_frame(frames.TEXT, payload))

    def send_binary(self, payload: bytes) -> None:
        self.send(frames.client_frame(frames.BINARY, payload))

    @property
    def is_open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def close(self, code: int = 1000) -> None:
        """Send a close frame and close our side (no wait for the server's echo)."""
        if self.is_open:
            self.send(frames.close_frame(code))
            self.transport.close()  # type: ignore[union-attr]  # is_open checked it

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()
