"""Baseline: python-socketio ``AsyncServer`` on aiohttp, fan-out through rooms.

Events mirror the protocol-v1 subset: ``sub`` joins the topic's room and acks
``{op: ok, topic, seq}``; ``pub`` numbers the message, emits ``msg`` (the same
``{op, topic, seq, prev, ts, data}`` object) to the room, then acks
``{op: ack, seq}``. Stock settings: the standard ``json`` module, no tuning.

Run: ``python -m bench.baselines.socketio_server --port 8766`` (``/socket.io/``,
``/health``).
"""

from __future__ import annotations

import argparse
import contextlib
import time
from typing import Any

import socketio
from aiohttp import web


def create_app() -> web.Application:
    sio = socketio.AsyncServer(async_mode="aiohttp", transports=["websocket"])
    seqs: dict[str, int] = {}

    @sio.on("sub")  # type: ignore[untyped-decorator]  # python-socketio has no hints
    async def sub(sid: str, request: dict[str, Any]) -> dict[str, Any]:
        topic = request["topic"]
        await sio.enter_room(sid, topic)
        return {"op": "ok", "topic": topic, "seq": seqs.get(topic, 0)}

    @sio.on("pub")  # type: ignore[untyped-decorator]  # python-socketio has no hints
    async def pub(sid: str, request: dict[str, Any]) -> dict[str, Any]:
        topic = request["topic"]
        prev = seqs.get(topic, 0)
        seqs[topic] = seq = prev + 1
        message = {
            "op": "msg",
            "topic": topic,
            "seq": seq,
            "prev": prev,
            "ts": int(time.time() * 1000),
            "data": request.get("data"),
        }
        await sio.emit("msg", message, room=topic)
        return {"op": "ack", "seq": seq, "dup": False}

    async def health(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    sio.attach(app)
    app.router.add_get("/health", health)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    loop = None
    with contextlib.suppress(ImportError):
        import uvloop

        loop = uvloop.new_event_loop()
    web.run_app(
        create_app(), host=args.host, port=args.port, access_log=None, print=None, loop=loop
    )


if __name__ == "__main__":
    main()
