"""The real aiohttp keeps what ``delivery.peer`` relies on: its server protocol says
when writing is paused, and the request writer's ``drain`` waits until it is not.

If an aiohttp upgrade renames or drops either, this fails here rather than as
connections that never wait for their socket (or never stop waiting).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.http import StreamWriter

from haws.gateway.delivery.peer import FlowControl


class QuietTransport(asyncio.Transport):
    """A transport that takes writes and goes nowhere: no socket."""

    def __init__(self) -> None:
        super().__init__()
        self._closing = False

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self._closing = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def write(self, data: bytes | bytearray | memoryview) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def test_the_server_protocol_reports_paused_writing_and_its_writer_drains() -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        return web.Response()

    server = web.Server(handler)
    protocol = server()
    protocol.connection_made(QuietTransport())
    try:
        flow: FlowControl = protocol
        assert flow.writing_paused is False
        protocol.pause_writing()  # what asyncio calls above the high-water mark
        assert flow.writing_paused is True

        drained = asyncio.create_task(StreamWriter(protocol, asyncio.get_running_loop()).drain())
        await asyncio.sleep(0)
        assert not drained.done()  # waits while the socket buffer is full
        protocol.resume_writing()
        await asyncio.wait_for(drained, 1)
        assert flow.writing_paused is False
    finally:
        protocol.connection_lost(None)
        await server.shutdown(0.1)
