"""One WebSocket connection to one gateway: handshake, frame decoding, reader, pinger.

It knows the wire (codec, batched frames, ``hello``/``welcome``, ``ping``,
``reconnect``) and nothing of subscriptions or publishes: every other frame
goes to the owner's ``on_frame``. ``run`` owns the reader and pinger tasks and
returns why the connection ended, so the owner can decide where to go next.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
from aiohttp import WSMsgType

from haws.client.types import ClientError
from haws.protocol.codec import Codec
from haws.protocol.errors import FrameDecodeError

log = logging.getLogger(__name__)

CLOSE_TIMEOUT: Final = 2.0
"""Seconds the close handshake may take before the socket is dropped."""
_DATA: Final = (WSMsgType.TEXT, WSMsgType.BINARY)
_PROTOCOL_ERROR: Final = 1002  # RFC 6455: the peer broke the protocol

FrameHandler = Callable[[dict[str, Any]], Awaitable[None]]


class ConnectFailed(ClientError):
    """No ``welcome`` from this node; ``code`` is the close code if it closed on us."""

    def __init__(self, url: str, reason: str, code: int | None = None) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.code = code


@dataclass(frozen=True, slots=True)
class Ended:
    """Why a connection ended."""

    code: int | None
    """WebSocket close code (aiohttp reports 1006 for a dropped socket)."""
    reason: str = ""
    reconnect_delay: float | None = None
    """Seconds the gateway asked us to wait, from a ``reconnect`` frame."""
    half_open: bool = False
    """No frame came back within ``ping_timeout`` of a ``ping``."""


def decode_frames(
    codec: Codec, message: aiohttp.WSMessage, *, batch: bool = True
) -> list[dict[str, Any]]:
    """The server frames in one WebSocket message.

    With ``batch`` (asked for in ``hello``) a JSON message may hold several
    newline-separated objects, a msgpack one an array of maps; without it a
    message is exactly one object.
    """
    if codec.binary and message.type is not WSMsgType.BINARY:
        raise FrameDecodeError("haws.v1.msgpack sends binary frames")
    if not batch:
        return [codec.decode(message.data)]
    return codec.split(message.data)


def _opcode(codec: Codec) -> WSMsgType:
    return WSMsgType.BINARY if codec.binary else WSMsgType.TEXT


async def _discard(ws: aiohttp.ClientWebSocketResponse, code: int, timeout: float) -> None:
    """Close ``ws``; past ``timeout`` (a peer that never answers) aiohttp drops the socket."""
    with contextlib.suppress(TimeoutError, aiohttp.ClientError, OSError, RuntimeError):
        async with asyncio.timeout(timeout):
            await ws.close(code=code)


class Connection:
    def __init__(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        codec: Codec,
        url: str,
        welcome: dict[str, Any],
        leftover: list[dict[str, Any]],
        *,
        batch: bool,
    ) -> None:
        self.ws = ws
        self.batch = batch
        self.codec = codec
        self.url = url
        self.welcome = welcome
        self.session = str(welcome.get("session", ""))
        self.node = str(welcome.get("node", ""))
        self._leftover = leftover  # frames batched after the welcome
        self._opcode = _opcode(codec)
        self._activity = asyncio.Event()
        self._receiving = False
        self._reconnect_delay: float | None = None
        self._ping_ids = itertools.count(1)
        self._close_reason = ""

    @classmethod
    async def open(
        cls,
        http: aiohttp.ClientSession,
        url: str,
        codec: Codec,
        hello: dict[str, Any],
        *,
        timeout: float,
    ) -> Connection:
        """Connect, send ``hello`` and wait for ``welcome``, all within ``timeout``."""
        ws: aiohttp.ClientWebSocketResponse | None = None
        batch = bool(hello.get("batch", False))
        try:
            async with asyncio.timeout(timeout):
                ws = await http.ws_connect(
                    url,
                    protocols=(codec.name,),
                    timeout=aiohttp.ClientWSTimeout(ws_close=CLOSE_TIMEOUT),
                    autoping=True,
                )
                if ws.protocol != codec.name:
                    raise ConnectFailed(url, f"the node does not speak {codec.name}")
                await ws.send_frame(codec.encode(hello), _opcode(codec))
                welcome, leftover = await cls._read_welcome(ws, codec, url, batch)
        except BaseException as exc:
            if ws is not None:
                await _discard(ws, _PROTOCOL_ERROR, CLOSE_TIMEOUT)
            if isinstance(exc, aiohttp.ClientError | OSError | TimeoutError | FrameDecodeError):
                raise ConnectFailed(url, repr(exc)) from exc
            raise
        return cls(ws, codec, url, welcome, leftover, batch=batch)

    @staticmethod
    async def _read_welcome(
        ws: aiohttp.ClientWebSocketResponse, codec: Codec, url: str, batch: bool
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        while True:
            message = await ws.receive()
            if message.type not in _DATA:
                reason = message.extra if isinstance(message.extra, str) else ""
                raise ConnectFailed(url, f"closed before welcome: {reason}", ws.close_code)
            frames = decode_frames(codec, message, batch=batch)
            for i, frame in enumerate(frames):
                if frame.get("op") == "welcome":
                    return frame, frames[i + 1 :]
                log.debug("frame before welcome ignored: %r", frame)

    async def send(self, frame: dict[str, Any]) -> bool:
        return await self.send_encoded(self.codec.encode(frame))

    async def send_encoded(self, data: bytes) -> bool:
        """Write one encoded frame; ``False`` if the connection is going away (the
        caller's requests are re-sent on the next one)."""
        if self.ws.closed:
            return False
        try:
            await self.ws.send_frame(data, self._opcode)
        except (aiohttp.ClientError, ConnectionError, RuntimeError) as exc:
            log.debug("send on %s failed: %r", self.url, exc)
            return False
        return True

    async def run(
        self, on_frame: FrameHandler, *, ping_interval: float | None, ping_timeout: float
    ) -> Ended:
        """Read until the connection ends or turns out half-open; the socket is closed
        on return (and when cancelled: the client is closing)."""
        reader = asyncio.create_task(self._read(on_frame), name=f"haws reader {self.url}")
        tasks: set[asyncio.Task[Any]] = {reader}
        pinger: asyncio.Task[bool] | None = None
        if ping_interval:
            pinger = asyncio.create_task(
                self._ping(ping_interval, ping_timeout), name=f"haws pinger {self.url}"
            )
            tasks.add(pinger)
        half_open = False
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if pinger in done and not pinger.result():
                # The socket is going away: let the reader see the close code.
                await asyncio.wait({reader})
            half_open = not reader.done()
        finally:
            for task in tasks:
                task.cancel()
            # Bounded: a task that ignores its cancel must not hang the client's close.
            _, stuck = await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT)
            for task in stuck:
                log.error("task %s ignored its cancel", task.get_name())
            results = [
                t.exception() if not t.cancelled() else None for t in tasks if t not in stuck
            ]
            if half_open:
                log.warning("no reply from %s within %.1f s: dropping it", self.url, ping_timeout)
                # A half-open peer would not answer the close handshake either.
                await _discard(self.ws, aiohttp.WSCloseCode.GOING_AWAY, 0.1)
            elif not self.ws.closed:
                await _discard(self.ws, aiohttp.WSCloseCode.OK, CLOSE_TIMEOUT)
        for result in results:
            if isinstance(result, Exception):
                log.error("connection to %s failed", self.url, exc_info=result)
        return Ended(
            code=self.ws.close_code,
            reason=self._close_reason,
            reconnect_delay=self._reconnect_delay,
            half_open=half_open,
        )

    async def _read(self, on_frame: FrameHandler) -> None:
        for frame in self._leftover:
            await self._dispatch(frame, on_frame)
        self._leftover = []
        ws = self.ws
        while True:
            self._receiving = True
            try:
                message = await ws.receive()
            finally:
                self._receiving = False
            if message.type not in _DATA:
                if message.type is WSMsgType.CLOSE and isinstance(message.extra, str):
                    self._close_reason = message.extra
                return
            self._activity.set()
            try:
                frames = decode_frames(self.codec, message, batch=self.batch)
            except FrameDecodeError as exc:
                log.warning("undecodable frame from %s: %s", self.url, exc)
                self._close_reason = "undecodable frame"
                await _discard(ws, _PROTOCOL_ERROR, CLOSE_TIMEOUT)
                return
            for frame in frames:
                await self._dispatch(frame, on_frame)

    async def _dispatch(self, frame: dict[str, Any], on_frame: FrameHandler) -> None:
        op = frame.get("op")
        if op == "pong":
            return
        if op == "reconnect":
            delay = frame.get("delay", 0)
            self._reconnect_delay = max(0.0, delay / 1000) if isinstance(delay, int) else 0.0
            log.info("%s asks us to reconnect (%s)", self.url, frame.get("reason"))
            return
        await on_frame(frame)

    async def _ping(self, interval: float, timeout: float) -> bool:
        """``True`` when a ``ping`` got no frame back within ``timeout`` (half-open);
        ``False`` when the socket went away under it.

        A reader busy handing messages to a slow application is not judged: it
        is not reading the socket, so it cannot see the pong.
        """
        while True:
            await asyncio.sleep(interval)
            self._activity.clear()
            if not await self.send({"op": "ping", "id": next(self._ping_ids)}):
                return False
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel
                # that lands as the activity arrives, and the pinger never stops.
                async with asyncio.timeout(timeout):
                    await self._activity.wait()
            except TimeoutError:
                if self._receiving:
                    return True
