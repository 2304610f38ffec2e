"""A scripted protocol-v1 server on 127.0.0.1, for what a real gateway will not do on cue.

Each connection reads the ``hello``, then runs the test's script with a
``FakeConn``; scripts close with any code, stay silent (half-open), or serve
``ping``/``sub``/``pub`` like a gateway would.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

Script = Callable[["FakeConn"], Awaitable[None]]


class FakeConn:
    def __init__(self, ws: web.WebSocketResponse, hello: dict[str, Any], index: int) -> None:
        self.ws = ws
        self.hello = hello
        self.index = index
        """0 for the first connection to this server, 1 for the next..."""
        self.received: list[dict[str, Any]] = []

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(frame))

    async def welcome(self, session: str = "s1", node: str = "fake") -> None:
        await self.send(
            {
                "op": "welcome",
                "session": session,
                "node": node,
                "resumed": "session" in self.hello,
                "heartbeat": 10,
                "ttl": 3600,
            }
        )

    async def recv(self, op: str | None = None, timeout: float = 5.0) -> dict[str, Any]:
        """The next frame from the client (of ``op``, skipping pings)."""
        async with asyncio.timeout(timeout):
            while True:
                message = await self.ws.receive()
                if message.type is not WSMsgType.TEXT:
                    raise ConnectionError(f"client went away ({message.type})")
                frame: dict[str, Any] = json.loads(message.data)
                self.received.append(frame)
                if op is None or frame.get("op") == op:
                    return frame
                if frame.get("op") == "ping":
                    await self.send({"op": "pong", "id": frame.get("id")})

    async def close(self, code: int, reason: str = "") -> None:
        await self.ws.close(code=code, message=reason.encode())

    async def ignore_all(self) -> None:
        """Half-open: read and answer nothing until the client goes."""
        async for message in self.ws:
            if message.type is WSMsgType.TEXT:
                self.received.append(json.loads(message.data))

    async def serve(self, seq: int = 0) -> None:
        """Answer like a gateway (``pong``, ``ok``, ``ack``) until the client goes."""
        async for message in self.ws:
            if message.type is not WSMsgType.TEXT:
                continue
            frame = json.loads(message.data)
            self.received.append(frame)
            op = frame.get("op")
            if op == "ping":
                await self.send({"op": "pong", "id": frame.get("id")})
            elif op in ("sub", "unsub"):
                await self.send(
                    {"op": "ok", "id": frame["id"], "topic": frame["topic"], "seq": seq}
                )
            elif op == "pub":
                seq += 1
                await self.send({"op": "ack", "id": frame["id"], "seq": seq, "dup": False})


class FakeGateway:
    def __init__(self, script: Script) -> None:
        self._script = script
        self.hellos: list[dict[str, Any]] = []
        self.conns: list[FakeConn] = []
        self.connected = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._open: set[web.WebSocketResponse] = set()
        self.url = ""

    async def __aenter__(self) -> FakeGateway:
        app = web.Application()
        app.router.add_get("/ws", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"ws://{host}:{port}/ws"
        return self

    async def __aexit__(self, *exc: object) -> None:
        for ws in list(self._open):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("haws.v1.json",))
        await ws.prepare(request)
        self._open.add(ws)
        try:
            first = await ws.receive(timeout=5.0)
            if first.type is not WSMsgType.TEXT:
                return ws
            hello = json.loads(first.data)
            conn = FakeConn(ws, hello, len(self.conns))
            self.hellos.append(hello)
            self.conns.append(conn)
            self.connected.set()
            await self._script(conn)
        except ConnectionError:
            pass
        finally:
            self._open.discard(ws)
        return ws
