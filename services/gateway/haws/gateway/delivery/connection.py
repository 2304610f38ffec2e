"""One client connection: its codec, its send queue, its subscriptions.

Frames go out in the node's flush pass (``Flusher``): one ``transport.write`` per
connection per event-loop iteration, and no task of the connection's own. A
connection gets a task only while it has to wait: its socket is paused above the
high-water mark, it is compressed (aiohttp deflates frame by frame), or it is
closing. While that task exists it alone writes to the socket, so frames and a
close never interleave, and a slow socket only ever blocks its own connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType

from haws.common.logs import EventLogger
from haws.common.tasks import stop_task
from haws.gateway.delivery.flusher import Flusher
from haws.gateway.delivery.peer import Drain, FlowControl, TransportSide, WebSocketSide
from haws.gateway.delivery.send_queue import SendQueue
from haws.gateway.delivery.wire import BATCH_MAX_BYTES, WireFrames, close_frame, payloads
from haws.gateway.security.grants import NOBODY, Principal
from haws.protocol.codec import Codec
from haws.protocol.errors import CloseCode

if TYPE_CHECKING:
    from haws.gateway.fanout.subscription import Subscription

__all__ = ["BATCH_MAX_BYTES", "CLOSE_TIMEOUT", "Connection"]

CLOSE_TIMEOUT = 2.0

_ids = itertools.count(1)
_ID_PREFIX = os.urandom(4).hex()
"""Connection ids: unique in this process, and across restarts by the random prefix
(one ``urandom`` per process instead of one per connection)."""

_OPEN, _STOPPING, _STOPPED = 0, 1, 2


class Connection:
    """Its state is its own: other modules read it and change it through methods."""

    __slots__ = (
        "_close_request",
        "_closed",
        "_dirty",
        "_drain",
        "_epoch",
        "_expiry",
        "_flow",
        "_flusher",
        "_log",
        "_opcode",
        "_overflow_cancel",
        "_principal",
        "_raw",
        "_sending",
        "_sent_close",
        "_slow",
        "_slow_grace",
        "_state",
        "_subs",
        "_taken_over",
        "_task",
        "_transport",
        "batch",
        "codec",
        "conn_id",
        "queue",
        "session",
        "user",
        "ws",
    )

    def __init__(
        self,
        ws: WebSocketSide,
        transport: TransportSide | None,
        codec: Codec,
        *,
        flow: FlowControl | None = None,
        drain: Drain | None = None,
        session: str,
        user: str | None,
        batch: bool,
        queue: SendQueue,
        log: EventLogger,
        flusher: Flusher,
        slow_grace: float = 5.0,
        principal: Principal = NOBODY,
    ) -> None:
        self.ws = ws
        self.codec = codec
        self.session = session
        self.user = user
        self.batch = batch
        self.queue = queue
        self._subs: dict[str, Subscription] = {}
        self.conn_id = f"{_ID_PREFIX}{next(_ids):x}"
        self._epoch = 0
        self._principal = principal
        self._expiry: asyncio.TimerHandle | None = None
        self._taken_over = False
        self._sent_close: int | None = None
        self._log = log
        self._flusher = flusher
        self._transport = transport
        self._flow = flow
        self._drain = drain
        self._raw = transport if not ws.compress else None
        """Where the flush pass writes raw frames (None: through aiohttp's send_frame)."""
        self._opcode = WSMsgType.BINARY if codec.binary else WSMsgType.TEXT
        self._close_request: tuple[int, str] | None = None
        self._dirty = False
        self._task: asyncio.Task[None] | None = None
        self._sending = False
        self._slow = False
        self._overflow_cancel = False
        self._slow_grace = slow_grace
        self._state = _OPEN
        self._closed: asyncio.Event | None = None

    @property
    def log(self) -> EventLogger:
        """Bound when used: log lines are rare, a bound logger per connection is not."""
        return self._log.bind(session=self.session)

    @property
    def subs(self) -> Mapping[str, Subscription]:
        """Its subscriptions by topic (the hub adds and removes them)."""
        return self._subs

    def add_subscription(self, sub: Subscription) -> None:
        self._subs[sub.topic] = sub

    def remove_subscription(self, topic: str) -> Subscription | None:
        return self._subs.pop(topic, None)

    @property
    def epoch(self) -> int:
        """Fencing epoch from the presence service's claim (0: no presence service)."""
        return self._epoch

    def claimed(self, epoch: int) -> None:
        self._epoch = epoch

    @property
    def principal(self) -> Principal:
        """Who the token says this is and what it may use (see ``grants``)."""
        return self._principal

    def reauthorize(self, principal: Principal) -> None:
        """A refreshed token's principal (same user) replaces the old one."""
        self._principal = principal

    def arm_expiry(self, delay: float, on_expiry: Callable[[], None]) -> None:
        """Run ``on_expiry`` after ``delay`` s (the token's end), replacing any earlier timer."""
        self.disarm_expiry()
        self._expiry = asyncio.get_running_loop().call_later(delay, self._expire, on_expiry)

    def disarm_expiry(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None

    def _expire(self, on_expiry: Callable[[], None]) -> None:
        self._expiry = None
        on_expiry()

    @property
    def taken_over(self) -> bool:
        """The session moved to a newer connection: this one must not write its record."""
        return self._taken_over

    def mark_taken_over(self) -> None:
        """Stop delivering at once: nothing more may reach a connection that lost its session."""
        self._taken_over = True
        for sub in self._subs.values():
            sub.stop_delivery()

    @property
    def sent_close(self) -> int | None:
        """The close code this side sent (aiohttp does not see the raw 4008 close)."""
        return self._sent_close

    @property
    def close_requested(self) -> bool:
        return self._close_request is not None

    @property
    def closing(self) -> bool:
        return self._close_request is not None or self.ws.closed

    def send(self, frame: bytes) -> bool:
        """Queue an encoded frame for this iteration's flush; on overflow close 4008."""
        if self.queue.put(frame):
            if not self._dirty and self._task is None:
                self._dirty = True
                self._flusher.schedule(self)
            return True
        self._overflow()
        return False

    def write_run(self, data: bytes, frames: list[bytes], size: int) -> None:
        """A topic's frames of this pass, ``data`` their bytes for this connection
        (``fanout.SharedRun``). With nothing queued ahead of them they go to the socket
        now, in one write and through no queue; otherwise they are queued behind
        what waits (a task owns the socket, a close is pending, the socket is
        compressed) or, over the queue's limits, overflow it (4008) as ``send`` would."""
        raw = self._raw
        if (
            raw is None
            or self._dirty
            or self._task is not None
            or self._close_request is not None
            or self._state != _OPEN
            or self._sent_close is not None
            or not self.queue.fits(len(frames), size)
        ):
            for frame in frames:
                if not self.send(frame):
                    return
            return
        if self.ws.closed or raw.is_closing():
            return  # the peer is gone: the reader sees it and ends the connection
        raw.write(data)
        flow = self._flow  # ``_paused`` inlined: this runs once per subscriber per pass
        if flow is not None and flow.writing_paused:
            self._start([])

    def send_obj(self, frame: dict[str, Any]) -> bool:
        # The codec returns bytes of their own size (see ``JsonCodec.encode``), so a
        # queue of small replies holds what its byte limit counts.
        return self.send(self.codec.encode(frame))

    def close(self, code: int, reason: str) -> None:
        """Write what is queued, then close with ``code``."""
        if self._close_request is None:
            self._close_request = (code, reason)
            if not self._dirty and self._task is None:
                self._dirty = True
                self._flusher.schedule(self)

    async def wait_closed(self) -> None:
        """Until ``stop`` has ended the connection's writing."""
        if self._state == _STOPPED:
            return
        if self._closed is None:
            self._closed = asyncio.Event()
        await self._closed.wait()

    async def stop(self) -> None:
        """End writing for good, when the reader is done: a close in progress gets
        its time, anything else (a blocked write, the slow-consumer grace) is cut."""
        if self._state != _OPEN:
            return
        self._state = _STOPPING
        task = self._task
        if task is not None:
            if self._close_request is not None:
                await asyncio.wait({task}, timeout=CLOSE_TIMEOUT * 2)
            await stop_task(task)
        self.queue.take_all()
        self._state = _STOPPED
        if self._closed is not None:
            self._closed.set()

    def flush(self, wire: WireFrames) -> None:
        """Write everything queued in one ``transport.write`` (the flush pass)."""
        self._dirty = False
        if self._task is not None:
            return  # the task owns the socket and takes the queue itself
        frames = self.queue.take_all()
        if self._state != _OPEN or self._sent_close is not None:
            return
        raw = self._raw
        if frames and raw is not None:
            if self.ws.closed or raw.is_closing():
                return  # the peer is gone: the reader sees it and ends the connection
            raw.write(wire.encode(frames, self.codec, self.batch))
            if not self._paused() and self._close_request is None:
                return
            frames = []
        elif not frames and self._close_request is None:
            return
        self._start(frames)

    def _write(self, data: bytes) -> bool:
        raw = self._raw
        if raw is None or self.ws.closed or raw.is_closing():
            return False
        raw.write(data)
        return True

    def _paused(self) -> bool:
        """aiohttp's flow control: the socket buffer is above its high-water mark."""
        return self._flow is not None and self._flow.writing_paused

    def _start(self, frames: list[bytes]) -> None:
        if self._state == _OPEN:
            self._task = asyncio.create_task(self._own_socket(frames), name=f"ws {self.session}")

    async def _own_socket(self, frames: list[bytes]) -> None:
        """Write ``frames`` and what comes after, waiting for the socket, until it is
        writable again (the flush pass takes over) or closed."""
        queue = self.queue
        try:
            while not queue.overflowed:
                if frames or self._paused():
                    self._sending = True
                    await self._write_waiting(frames)
                    self._sending = False
                    frames = queue.take_all()
                    continue
                if self._close_request is not None:
                    code, reason = self._close_request
                    await self._close_socket(code, reason)
                return
            await self._close_slow()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self._overflow_cancel and task is not None and task.uncancel() == 0:
                # Cancelled by _overflow while blocked on a full socket.
                await self._close_slow()
                return
            raise
        except (ConnectionResetError, RuntimeError) as exc:
            # The peer went away mid-write; the reader sees the close too.
            self.log.debug("ws.write_failed", error=repr(exc))
        finally:
            self._sending = False
            self._task = None

    async def _write_waiting(self, frames: list[bytes]) -> None:
        if self._raw is None:
            # permessage-deflate: aiohttp compresses frame by frame.
            for payload in payloads(frames, self.codec, self.batch):
                await self.ws.send_frame(payload, self._opcode)
            return
        if frames and not self._write(WireFrames().encode(frames, self.codec, self.batch)):
            raise ConnectionResetError("connection closing")
        if self._drain is not None and self._paused():
            await self._drain.drain()

    def _overflow(self) -> None:
        """The queue overflowed: close 4008 now, even while the socket is blocked."""
        if self._slow:
            return
        self._slow = True
        task = self._task
        if task is None:
            self._start([])
        elif self._sending:
            self._overflow_cancel = True
            task.cancel()

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
        code = int(CloseCode.SLOW_CONSUMER)
        self._sent_close = code
        transport.write(close_frame(code, "slow consumer"))
        transport.close()
        try:
            # The reader ends when the peer has read it all and the socket closes;
            # its owner then stops this wait. Otherwise the grace runs out.
            await asyncio.sleep(self._slow_grace)
        finally:
            # Already gone (the peer read it all and closed) is fine too.
            with contextlib.suppress(AttributeError, RuntimeError):
                transport.abort()

    async def _close_socket(self, code: int, reason: str) -> None:
        self._sent_close = code
        try:
            await asyncio.wait_for(self.ws.close(code=code, message=reason.encode()), CLOSE_TIMEOUT)
        except (TimeoutError, ConnectionResetError, RuntimeError):
            # A peer that reads nothing cannot take a close frame either.
            if self._transport is not None:
                with contextlib.suppress(Exception):
                    self._transport.abort()
