"""Baseline: a raw aiohttp broadcast server, in-process fan-out, no broker.

It speaks the protocol-v1 subset the load generator uses (``hello`` ->
``welcome``, ``sub`` -> ``ok``, ``pub`` -> ``ack``, ``msg`` frames with
``{op, topic, seq, prev, ts, data}``) and fans a message out the shortest way
Python allows with aiohttp: encode once, then ``send_frame`` the same bytes to
every subscriber from the publisher's handler; the ack follows the fan-out, so
a full socket slows the publisher down instead of growing a queue. No
durability, no resume, no slow-consumer isolation: the upper bound of this
architecture, not a product.

Run: ``python -m bench.baselines.raw_aiohttp --port 8765`` (``/ws``, ``/health``).
"""

from __future__ import annotations

import argparse
import contextlib
import time
from typing import Any

from aiohttp import WSMsgType, web

try:
    import orjson

    dumps = orjson.dumps
    loads = orjson.loads
except ImportError:  # pragma: no cover - the venv has orjson
    import json

    def dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()

    loads = json.loads

SUBPROTOCOL = "haws.v1.json"


class Room:
    __slots__ = ("members", "seq")

    def __init__(self) -> None:
        self.members: dict[web.WebSocketResponse, None] = {}
        self.seq = 0


class Broadcaster:
    def __init__(self, heartbeat: float) -> None:
        self.rooms: dict[str, Room] = {}
        self.heartbeat = heartbeat
        self.sessions = 0

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(
            protocols=(SUBPROTOCOL,), heartbeat=self.heartbeat, compress=False
        )
        await ws.prepare(request)
        joined: list[Room] = []
        try:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                frame = loads(message.data)
                op = frame.get("op")
                if op == "pub":
                    await self.publish(ws, frame)
                elif op == "sub":
                    room = self.rooms.setdefault(frame["topic"], Room())
                    room.members[ws] = None
                    joined.append(room)
                    reply = {"op": "ok", "id": frame["id"], "topic": frame["topic"], "seq": room.seq}
                    await ws.send_frame(dumps(reply), WSMsgType.TEXT)
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
                    await ws.send_frame(dumps(welcome), WSMsgType.TEXT)
        finally:
            for room in joined:
                room.members.pop(ws, None)
        return ws

    async def publish(self, ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
        topic = frame["topic"]
        room = self.rooms.setdefault(topic, Room())
        prev = room.seq
        room.seq = seq = prev + 1
        encoded = dumps(
            {
                "op": "msg",
                "topic": topic,
                "seq": seq,
                "prev": prev,
                "ts": int(time.time() * 1000),
                "data": frame.get("data"),
            }
        )
        for member in list(room.members):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await member.send_frame(encoded, WSMsgType.TEXT)
        ack = {"op": "ack", "id": frame["id"], "seq": seq, "dup": False}
        await ws.send_frame(dumps(ack), WSMsgType.TEXT)


async def health(_: web.Request) -> web.Response:
    return web.Response(text="ok")


def create_app(heartbeat: float) -> web.Application:
    app = web.Application()
    app.add_routes([web.get("/ws", Broadcaster(heartbeat).handle), web.get("/health", health)])
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--heartbeat", type=float, default=10.0, help="as the haws gateway")
    args = parser.parse_args()
    loop_factory = None
    with contextlib.suppress(ImportError):
        import uvloop

        loop_factory = uvloop.new_event_loop
    web.run_app(
        create_app(args.heartbeat),
        host=args.host,
        port=args.port,
        access_log=None,
        print=None,
        loop=loop_factory() if loop_factory else None,
    )


if __name__ == "__main__":
    main()
