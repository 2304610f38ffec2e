"""A WebSocket proxy on 127.0.0.1 in front of a real gateway that can cut a connection
at the worst moment: right after the gateway stored a publish, before its ``ack``.

``cut_before(frame)`` picks the server frame to cut before; the first ``max_cuts``
such frames cut their connection, later ones pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web

Cut = Callable[[dict[str, Any]], bool]


class WsProxy:
    def __init__(self, upstream: str, *, cut_before: Cut, max_cuts: int) -> None:
        self._upstream = upstream
        self._cut_before = cut_before
        self._max_cuts = max_cuts
        self.cuts = 0
        self.connections = 0
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> WsProxy:
        self._http = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_get("/ws", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"ws://{host}:{port}/ws"
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
        if self._http is not None:
            await self._http.close()

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        assert self._http is not None
        client = web.WebSocketResponse(protocols=("haws.v1.json",))
        await client.prepare(request)
        self.connections += 1
        async with self._http.ws_connect(self._upstream, protocols=("haws.v1.json",)) as server:
            up = asyncio.create_task(self._pump(client, server))
            down = asyncio.create_task(self._pump_down(server, client))
            self._tasks |= {up, down}
            try:
                await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (up, down):
                    task.cancel()
                await asyncio.gather(up, down, return_exceptions=True)
                self._tasks -= {up, down}
        if not client.closed:
            await client.close(code=1011, message=b"proxy cut")
        return client

    async def _pump(self, src: Any, dst: Any) -> None:
        async for message in src:
            if message.type is WSMsgType.TEXT:
                await dst.send_str(message.data)

    async def _pump_down(self, server: Any, client: web.WebSocketResponse) -> None:
        async for message in server:
            if message.type is not WSMsgType.TEXT:
                continue
            frames = [json.loads(line) for line in message.data.split("\n") if line]
            if self.cuts < self._max_cuts and any(self._cut_before(f) for f in frames):
                self.cuts += 1
                with contextlib.suppress(Exception):
                    await client.close(code=1011, message=b"proxy cut")
                return
            await client.send_str(message.data)
