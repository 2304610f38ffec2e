"""A protocol client over one connection at a time: greeting and request/reply.

``Peer`` is the slow path every client shares: the greeting (``hello`` ->
``welcome``, or engine.io open -> namespace connect), requests matched to
replies by id, engine.io pings. Subscribers and the publisher build on it and
replace ``on_frames`` with their own hot path for ``msg`` frames and acks.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgpack

from bench.loadgen.connection import WsConnection
from bench.loadgen.dialects import PING_REPLY, Dialect

Reply = dict[str, Any]


class RequestFailed(Exception):
    """The server answered a request with an error, or not in time."""


class Peer:
    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.conn: WsConnection | None = None
        self.session: str | None = None
        """haws session id, or the socket.io ``pid`` when recovery is on."""
        self.close_codes: list[int | None] = []
        self._next_id = 0
        self._replies: dict[int, asyncio.Future[Reply]] = {}
        self._expect: dict[str, asyncio.Future[Reply]] = {}

    def next_id(self) -> int:
        self._next_id += 1
        return self._next_id

    async def connect(
        self,
        base_url: str,
        *,
        session: str | None = None,
        cursors: dict[str, Any] | None = None,
        timeout: float = 10.0,
    ) -> Reply:
        """Open ``base_url`` + the dialect's path and greet; returns the welcome."""
        dialect = self.dialect
        async with asyncio.timeout(timeout):
            greeted = self._expecting("connected" if dialect.family == "socket.io" else "welcome")
            opened = self._expecting("open") if dialect.family == "socket.io" else None
            self.conn = conn = await WsConnection.open(
                self, base_url + dialect.path, dialect.subprotocol, timeout=timeout
            )
            if opened is not None:
                await opened
            conn.send(dialect.hello(session, cursors))
            welcome = await greeted
        self.session = welcome.get("session") or welcome.get("pid") or session
        return welcome

    def _expecting(self, op: str) -> asyncio.Future[Reply]:
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._expect[op] = future
        return future

    async def request(self, frame: bytes, rid: int, timeout: float = 10.0) -> Reply:
        """Send a framed request with id ``rid``; its reply, or ``RequestFailed``."""
        if self.conn is None:
            raise RequestFailed("not connected")
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._replies[rid] = future
        self.conn.send(frame)
        try:
            async with asyncio.timeout(timeout):
                reply = await future
        except TimeoutError:
            raise RequestFailed(f"no reply to request {rid} within {timeout} s") from None
        finally:
            self._replies.pop(rid, None)
        if reply.get("op") == "error":
            raise RequestFailed(f"{reply.get('code')}: {reply.get('message')}")
        return reply

    async def subscribe(self, topic: str, since: int | None = None) -> Reply:
        rid = self.next_id()
        return await self.request(self.dialect.sub(rid, topic, since), rid)

    # -- receiving ---------------------------------------------------------

    def on_frames(self, conn: WsConnection, received: list[tuple[int, bytes]], now: int) -> None:
        for _, payload in received:
            self.on_payload(conn, payload, now)

    def on_payload(self, conn: WsConnection, payload: bytes, now: int) -> None:
        """One non-hot-path frame: replies, events, engine.io pings."""
        if payload == b"2" and self.dialect.family == "socket.io":
            conn.send(PING_REPLY)
            return
        if self.dialect.binary:
            obj = msgpack.unpackb(payload, raw=False)
            for item in obj if isinstance(obj, list) else [obj]:
                if isinstance(item, dict):
                    self.on_control(item, now)
            return
        lines = payload.split(b"\n") if self.dialect.batch else (payload,)
        for line in lines:
            reply = self.dialect.control(line)
            if reply is not None:
                self.on_control(reply, now)

    def on_control(self, reply: Reply, now: int) -> None:
        rid = reply.get("id")
        if isinstance(rid, int):
            future = self._replies.get(rid)
            if future is not None and not future.done():
                future.set_result(reply)
                return
        waiting = self._expect.pop(str(reply.get("op")), None)
        if waiting is not None and not waiting.done():
            waiting.set_result(reply)
            return
        if reply.get("op") == "error" and "welcome" in self._expect:
            failed = self._expect.pop("welcome")
            if not failed.done():
                failed.set_exception(RequestFailed(f"hello refused: {reply}"))

    def on_closed(self, conn: WsConnection) -> None:
        self.close_codes.append(conn.close_code)
        error = ConnectionResetError(f"closed ({conn.close_code})")
        for future in [*self._replies.values(), *self._expect.values()]:
            if not future.done():
                future.set_exception(error)
                future.exception()  # retrieved here; the awaiting request sees it too
        self._expect.clear()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
