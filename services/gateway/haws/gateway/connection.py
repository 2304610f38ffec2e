"""One client connection: its codec, its send queue and writer, its subscriptions.

The writer task is the only place that writes to the socket, so a frame and a
close never interleave and a slow socket only ever blocks its own connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import struct
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from haws.common.codec import Codec
from haws.common.errors import CloseCode
from haws.common.logs import EventLogger
from haws.gateway.grants import NOBODY, Principal
from haws.gateway.send_queue import SendQueue

if TYPE_CHECKING:
    from haws.gateway.subscription import Subscription

BATCH_MAX_BYTES = 256 * 1024
CLOSE_TIMEOUT = 2.0


class Connection:
    __slots__ = (
        "_close_request",
        "_closed",
        "_opcode",
        "_overflow_cancel",
        "_sending",
        "_slow_grace",
        "_transport",
        "_writer",
        "batch",
        "codec",
        "conn_id",
        "epoch",
        "expiry",
        "log",
        "principal",
        "queue",
        "sent_close",
        "session",
        "subs",
        "taken_over",
        "user",
        "ws",
    )

    def __init__(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.BaseTransport | None,
        codec: Codec,
        *,
        session: str,
        user: str | None,
        batch: bool,
        queue: SendQueue,
        log: EventLogger,
        slow_grace: float = 5.0,
        principal: Principal = NOBODY,
    ) -> None:
        self.ws = ws
        self.codec = codec
        self.session = session
        self.user = user
        self.batch = batch
        self.queue = queue
        self.log = log
        self.subs: dict[str, Subscription] = {}
        self.conn_id = secrets.token_hex(8)
        self.epoch = 0
        """Fencing epoch from the presence service's claim (0: no presence service)."""
        self.principal = principal
        """Who the token says this is and what it may use (see ``grants``)."""
        self.expiry: asyncio.TimerHandle | None = None
        """The close at token expiry (see ``credentials``)."""
        self._transport = transport
        self._opcode = WSMsgType.BINARY if codec.binary else WSMsgType.TEXT
        self._close_request: tuple[int, str] | None = None
        self._closed = asyncio.Event()
        self.taken_over = False
        """The session moved to a newer connection: this one must not write its record."""
        self.sent_close: int | None = None
        """The close code this side sent (aiohttp does not see the raw 4008 close)."""
        self._writer: asyncio.Task[int | None] | None = None
        self._sending = False
        self._overflow_cancel = False
        self._slow_grace = slow_grace
        queue.on_overflow = self._on_overflow

    @property
    def close_requested(self) -> bool:
        return self._close_request is not None

    @property
    def closing(self) -> bool:
        return self._close_request is not None or self.ws.closed

    def send(self, frame: bytes) -> bool:
        """Queue an encoded frame; on overflow the writer closes with 4008."""
        return self.queue.put(frame)

    def send_obj(self, frame: dict[str, Any]) -> bool:
        return self.queue.put(self.codec.encode(frame))

    def close(self, code: int, reason: str) -> None:
        """Ask the writer to flush what is queued, then close with ``code``."""
        if self._close_request is None:
            self._close_request = (code, reason)
            self.queue.wake()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def run_writer(self) -> int | None:
        """Drain the queue to the socket until a close is requested or the queue overflows.

        Returns the close code this side sent, if any.
        """
        self._writer = asyncio.current_task()
        queue = self.queue
        try:
            while True:
                if self._close_request is None:
                    await queue.wait()
                if queue.overflowed:
                    await self._close_slow()
                    return int(CloseCode.SLOW_CONSUMER)
                frames = queue.take_all()
                if frames:
                    self._sending = True
                    await self._write(frames)
                    self._sending = False
                elif self._close_request is not None:
                    # Everything queued before the close request is out: close now.
                    code, reason = self._close_request
                    await self._close_socket(code, reason)
                    return code
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self._overflow_cancel and task is not None and task.uncancel() == 0:
                # Cancelled by _on_overflow while blocked on a full socket.
                await self._close_slow()
                return int(CloseCode.SLOW_CONSUMER)
            raise
        except (ConnectionResetError, RuntimeError) as exc:
            # The peer went away mid-write; the reader sees the close too.
            self.log.debug("ws.write_failed", error=repr(exc))
            return None
        finally:
            self._closed.set()

    async def _write(self, frames: list[bytes]) -> None:
        payloads = (
            [self.codec.join(c) if len(c) > 1 else c[0] for c in _batches(frames)]
            if self.batch and len(frames) > 1
            else frames
        )
        transport = self._transport
        if self.ws.compress or transport is None:
            # permessage-deflate: aiohttp compresses frame by frame.
            for payload in payloads:
                await self.ws.send_frame(payload, self._opcode)
            return
        # Everything queued goes out in one write: one syscall per wake-up of this
        # writer instead of one per frame (the fan-out hot path).
        if self.ws.closed or transport.is_closing():
            raise ConnectionResetError("connection closing")
        first = 0x80 | self._opcode
        parts: list[bytes] = []
        for payload in payloads:
            parts.append(_frame_header(first, len(payload)))
            parts.append(payload)
        transport.write(b"".join(parts))  # type: ignore[attr-defined]
        protocol = transport.get_protocol()
        if getattr(protocol, "_paused", False):
            # aiohttp's flow control: wait until the socket buffer drained below its mark.
            await protocol._drain_helper()  # type: ignore[attr-defined]

    def _on_overflow(self) -> None:
        """A writer blocked on a socket the peer does not read must stop waiting."""
        if self._sending and self._writer is not None and not self._writer.done():
            self._overflow_cancel = True
            self._writer.cancel()

    async def _close_slow(self) -> None:
        """Close 4008 without waiting for the socket to drain (it may never).

        The close frame is written behind what is already buffered, so a peer
        that reads late still sees every queued frame, then 4008; one that
        never reads is cut off after the grace period.
        """
        self.log.info("ws.slow_consumer", queued_bytes=self.queue.queued_bytes)
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        reason = b"slow consumer"
        code = int(CloseCode.SLOW_CONSUMER)
        self.sent_close = code
        transport.write(  # type: ignore[attr-defined]
            bytes((0x88, 2 + len(reason))) + code.to_bytes(2, "big") + reason
        )
        transport.close()
        try:
            # The reader ends when the peer has read it all and the socket closes;
            # its owner then cancels this wait. Otherwise the grace runs out.
            await asyncio.sleep(self._slow_grace)
        finally:
            # Already gone (the peer read it all and closed) is fine too.
            with contextlib.suppress(AttributeError, RuntimeError):
                transport.abort()  # type: ignore[attr-defined]

    async def _close_socket(self, code: int, reason: str) -> None:
        self.sent_close = code
        try:
            await asyncio.wait_for(self.ws.close(code=code, message=reason.encode()), CLOSE_TIMEOUT)
        except (TimeoutError, ConnectionResetError, RuntimeError):
            # A peer that reads nothing cannot take a close frame either.
            if self._transport is not None:
                with contextlib.suppress(Exception):
                    self._transport.abort()  # type: ignore[attr-defined]


_HEADER_SHORT = struct.Struct("!BB")
_HEADER_MEDIUM = struct.Struct("!BBH")
_HEADER_LONG = struct.Struct("!BBQ")


def _frame_header(first: int, length: int) -> bytes:
    """RFC 6455 header of an unmasked (server) frame carrying ``length`` bytes."""
    if length < 126:
        return _HEADER_SHORT.pack(first, length)
    if length < 65536:
        return _HEADER_MEDIUM.pack(first, 126, length)
    return _HEADER_LONG.pack(first, 127, length)


def _batches(frames: list[bytes]) -> list[list[bytes]]:
    """Split queued frames into batches of at most BATCH_MAX_BYTES each."""
    chunks: list[list[bytes]] = []
    current: list[bytes] = []
    size = 0
    for frame in frames:
        if current and size + len(frame) > BATCH_MAX_BYTES:
            chunks.append(current)
            current, size = [], 0
        current.append(frame)
        size += len(frame)
    if current:
        chunks.append(current)
    return chunks
