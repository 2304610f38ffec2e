"""Baseline: a raw aiohttp broadcast server, in-process fan-out, no broker.

It speaks the protocol-v1 subset the load generator uses (``hello`` ->
``welcome``, ``sub`` -> ``ok``, ``pub`` -> ``ack``, ``msg`` frames with
``{op, topic, seq, prev, ts, data}``) and fans out the shortest way Python
allows on aiohttp: a message is encoded once, *as a complete WebSocket frame*
(header and JSON), and those bytes are appended to every subscriber's pending
list; once per event-loop iteration each subscriber's pending frames go out in
one ``transport.write`` (one syscall per subscriber per iteration, not per
message). aiohttp does the handshake, reading, pings and closing. No
durability, no resume, no per-connection task: the upper bound of this
architecture in Python, not a product.

``--fanout send-frame`` is the naive variant (``await ws.send_frame`` to each
subscriber in turn from the publisher's handler), kept for comparison.

Run: ``python -m bench.baselines.raw_aiohttp --port 8765`` (``/ws``, ``/health``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from typing import Any

import orjson
from aiohttp import WSMsgType, web

SUBPROTOCOL = "haws.v1.json"
SLOW_CONSUMER_BYTES = 8 << 20
"""A subscriber with this much unsent is cut (haws closes 4008 at 1 MiB queued)."""


def server_frame(payload: bytes) -> bytes:
    """An unmasked, final text frame: what every subscriber receives for a message."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + payload


class Member:
    __slots__ = ("pending", "transport", "ws")

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport) -> None:
        self.ws = ws
        self.transport = transport
        self.pending: list[bytes] = []


class Room:
    __slots__ = ("members", "seq")

    def __init__(self) -> None:
        self.members: dict[web.WebSocketResponse, Member] = {}
        self.seq = 0


class Broadcaster:
    def __init__(self, heartbeat: float, mode: str) -> None:
        self.rooms: dict[str, Room] = {}
        self.heartbeat = heartbeat
        self.sessions = 0
        self.direct = mode == "direct"
        self._dirty: list[Member] = []
        self._flush_scheduled = False

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(
            protocols=(SUBPROTOCOL,), heartbeat=self.heartbeat, compress=False
        )
        await ws.prepare(request)
        transport = request.transport
        if transport is None:  # the client left during the upgrade
            return ws
        joined: list[Room] = []
        try:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                frame = orjson.loads(message.data)
                op = frame.get("op")
                if op == "pub":
                    await self.publish(ws, frame)
                elif op == "sub":
                    room = self.rooms.setdefault(frame["topic"], Room())
                    room.members[ws] = Member(ws, transport)
                    joined.append(room)
                    reply = {
                        "op": "ok",
                        "id": frame["id"],
                        "topic": frame["topic"],
                        "seq": room.seq,
                    }
                    await ws.send_frame(orjson.dumps(reply), WSMsgType.TEXT)
                elif op == "hello":
                    self.sessions += 1
                    welcome = {
                        "op": "welcome",
                        "session": f"raw-{self.sessions}",
                        "node": "raw",
                        "resumed": False,
                        "heartbeat": self.heartbeat,
                        "ttl": 0,
                    }
                    await ws.send_frame(orjson.dumps(welcome), WSMsgType.TEXT)
        finally:
            for room in joined:
                room.members.pop(ws, None)
        return ws

    async def publish(self, ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
        topic = frame["topic"]
        room = self.rooms.setdefault(topic, Room())
        prev = room.seq
        room.seq = seq = prev + 1
        encoded = orjson.dumps(
            {
                "op": "msg",
                "topic": topic,
                "seq": seq,
                "prev": prev,
                "ts": int(time.time() * 1000),
                "data": frame.get("data"),
            }
        )
        if self.direct:
            self._deliver(room, server_frame(encoded))
        else:
            for member in list(room.members):
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await member.send_frame(encoded, WSMsgType.TEXT)
        ack = {"op": "ack", "id": frame["id"], "seq": seq, "dup": False}
        await ws.send_frame(orjson.dumps(ack), WSMsgType.TEXT)

    def _deliver(self, room: Room, wire: bytes) -> None:
        dirty = self._dirty
        for member in room.members.values():
            if not member.pending:
                dirty.append(member)
            member.pending.append(wire)
        if dirty and not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        dirty, self._dirty = self._dirty, []
        for member in dirty:
            pending, member.pending = member.pending, []
            transport = member.transport
            if transport.is_closing():
                continue
            if transport.get_write_buffer_size() > SLOW_CONSUMER_BYTES:
                transport.abort()
                continue
            transport.write(pending[0] if len(pending) == 1 else b"".join(pending))


async def health(_: web.Request) -> web.Response:
    return web.Response(text="ok")


def create_app(heartbeat: float, mode: str) -> web.Application:
    app = web.Application()
    handler = Broadcaster(heartbeat, mode).handle
    app.add_routes([web.get("/ws", handler), web.get("/health", health)])
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--heartbeat", type=float, default=10.0, help="as the haws gateway")
    parser.add_argument("--fanout", choices=("direct", "send-frame"), default="direct")
    args = parser.parse_args()
    loop = None
    with contextlib.suppress(ImportError):
        import uvloop

        loop = uvloop.new_event_loop()
    web.run_app(
        create_app(args.heartbeat, args.fanout),
        host=args.host,
        port=args.port,
        access_log=None,
        print=None,
        loop=loop,
    )


if __name__ == "__main__":
    main()
