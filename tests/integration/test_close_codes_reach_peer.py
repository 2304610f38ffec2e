"""Close codes reach a peer that is still sending (issue 16, item 5).

A gateway that closes a client mid-send (a frame over the size limit, a command
flood) must not lose its close frame to the TCP reset that unread data causes:
it sends the close, stops writing, reads and discards for ``close_linger``
seconds (or until the peer closes), then closes. Each case is tried 20 times,
as a new user would send: one big frame, or a flood of pings, and then read.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Iterator

import aiohttp
import pytest

from haws.cluster import ConsulAgent, Gateway, NatsServer

pytestmark = pytest.mark.integration

TRIES = 20
BIG_FRAME = 4 * 1024 * 1024
FLOOD = 5000
READ_TIMEOUT = 15.0


@pytest.fixture(scope="module")
def gateway_process(
    shared_nats: NatsServer, consul_agent: ConsulAgent, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """A gateway in its own process (as users run it: in the test's event loop the
    reset does not show), 64 KiB frames, a low command rate so a flood trips it."""
    flags = ["--max-frame-bytes", str(64 * 1024), "--command-rate", "100"]
    flags += ["--command-burst", "100", "--command-strikes", "20"]
    gateway = Gateway(
        tmp_path_factory.mktemp("close-codes"),
        name=f"gw-close-{uuid.uuid4().hex[:6]}",
        nats_url=shared_nats.url,
        consul_http=consul_agent.http_url,
        extra_args=flags,
    )
    with gateway:
        yield gateway


async def _close_code(ws: aiohttp.ClientWebSocketResponse) -> int | None:
    """Read until the connection ends; the close code the client library reports.

    aiohttp's own ``close_code`` is what its user sees: 1006 when the reply to the
    server's close could not be written because a reset had already come.
    """
    async with asyncio.timeout(READ_TIMEOUT):
        while True:
            msg = await ws.receive()
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                break
            if msg.type is aiohttp.WSMsgType.ERROR:
                break
    return None if ws.close_code is None else int(ws.close_code)


async def _oversize_try(http: aiohttp.ClientSession, url: str) -> int | None:
    async with http.ws_connect(url, max_msg_size=0, autoclose=True) as ws:
        await ws.send_str(json.dumps({"op": "hello", "v": 1}))
        await ws.receive()  # welcome
        sender = asyncio.ensure_future(ws.send_bytes(b"x" * BIG_FRAME))
        try:
            return await _close_code(ws)
        finally:
            await asyncio.gather(sender, return_exceptions=True)


async def _flood_try(http: aiohttp.ClientSession, url: str) -> int | None:
    async with http.ws_connect(url, autoclose=True) as ws:
        await ws.send_str(json.dumps({"op": "hello", "v": 1}))
        await ws.receive()  # welcome

        async def flood() -> None:
            for i in range(FLOOD):
                await ws.send_str(json.dumps({"op": "ping", "id": i}))

        sender = asyncio.ensure_future(flood())
        try:
            return await _close_code(ws)
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)


async def test_an_oversize_frame_is_closed_1009_every_time(
    gateway_process: Gateway,
) -> None:
    async with aiohttp.ClientSession() as http:
        codes = [await _oversize_try(http, gateway_process.ws_url) for _ in range(TRIES)]
    assert codes == [1009] * TRIES, Counter(codes)


async def test_a_command_flood_is_closed_4002_every_time(
    gateway_process: Gateway,
) -> None:
    async with aiohttp.ClientSession() as http:
        codes = [await _flood_try(http, gateway_process.ws_url) for _ in range(TRIES)]
    assert codes == [4002] * TRIES, Counter(codes)
