"""A raw protocol-v1 test client: frames as the wire carries them, no SDK logic.

It unpacks batched frames, keeps every ``msg`` per topic in arrival order, and
checks nothing itself, so tests assert exactly what a client would observe.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import defaultdict
from typing import Any

import aiohttp
import msgpack

from haws.protocol.codec import JSON as JSON_CODEC
from haws.protocol.codec import MSGPACK as MSGPACK_CODEC

JSON = "haws.v1.json"
MSGPACK = "haws.v1.msgpack"


class WsClient:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse, session: aiohttp.ClientSession) -> None:
        self.ws = ws
        self._session = session
        self.binary = ws.protocol == MSGPACK
        self.frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.msgs: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.others: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self.closed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())
        self._next_id = 0

    @classmethod
    async def connect(cls, url: str, *, protocol: str | None = None, **kwargs: Any) -> WsClient:
        session = aiohttp.ClientSession()
        try:
            ws = await session.ws_connect(
                url, protocols=[protocol] if protocol else (), max_msg_size=0, **kwargs
            )
        except BaseException:
            await session.close()
            raise
        return cls(ws, session)

    def next_id(self) -> int:
        self._next_id += 1
        return self._next_id

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                for frame in self._frames_of(message):
                    if frame.get("op") == "msg":
                        self.msgs[frame["topic"]].append(frame)
                    else:
                        self.others.append(frame)
                    self.frames.put_nowait(frame)
        finally:
            self.close_code = self.ws.close_code
            self.closed.set()

    def _frames_of(self, message: aiohttp.WSMessage) -> list[dict[str, Any]]:
        if message.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
            return (MSGPACK_CODEC if self.binary else JSON_CODEC).split(message.data)
        return []

    async def send(self, frame: dict[str, Any]) -> None:
        if self.binary:
            await self.ws.send_bytes(msgpack.packb(frame, use_bin_type=True))
        else:
            await self.ws.send_str(json.dumps(frame))

    async def send_raw(self, data: str | bytes) -> None:
        if isinstance(data, bytes):
            await self.ws.send_bytes(data)
        else:
            await self.ws.send_str(data)

    async def recv(self, op: str | None = None, timeout: float = 5.0) -> dict[str, Any]:
        """The next frame (of ``op``, skipping ``msg`` frames when another op is asked)."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.frames.get()
                if op is None or frame.get("op") == op:
                    return frame
                if frame.get("op") != "msg":
                    raise AssertionError(f"expected {op}, got {frame}")

    async def request(self, frame: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        """Send with a fresh id and return the reply carrying that id."""
        rid = self.next_id()
        await self.send({**frame, "id": rid})
        async with asyncio.timeout(timeout):
            while True:
                reply = await self.frames.get()
                if reply.get("id") == rid:
                    return reply

    @property
    def session(self) -> str:
        """The session its welcome named (after ``hello``: the first frame not a ``msg``)."""
        return str(self.others[0]["session"])

    def presence_changes(self, topic: str) -> list[tuple[str, str]]:
        """``(join|leave, session)`` of ``topic``, in arrival order."""
        return [
            (f["op"], f["who"]["session"])
            for f in self.others
            if f.get("op") in ("join", "leave") and f["topic"] == topic
        ]

    async def hello(self, **fields: Any) -> dict[str, Any]:
        await self.send({"op": "hello", "v": 1, **fields})
        return await self.recv("welcome")

    async def sub(self, topic: str, **fields: Any) -> dict[str, Any]:
        return await self.request({"op": "sub", "topic": topic, **fields})

    async def pub(self, topic: str, data: Any, **fields: Any) -> dict[str, Any]:
        return await self.request({"op": "pub", "topic": topic, "data": data, **fields})

    async def wait_msgs(
        self, topic: str, count: int, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        async with asyncio.timeout(timeout):
            while len(self.msgs[topic]) < count:
                await self.frames.get()
        return self.msgs[topic]

    async def wait_closed(self, timeout: float = 10.0) -> int | None:
        async with asyncio.timeout(timeout):
            await self.closed.wait()
        return self.close_code

    async def close(self) -> None:
        if not self.ws.closed:
            await self.ws.close()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)
        await self._session.close()


def assert_chain(msgs: list[dict[str, Any]], first_prev: int | None = None) -> None:
    """Guarantee 1 as a client checks it: seq increases, each prev is the last seq."""
    for before, after in itertools.pairwise(msgs):
        assert after["seq"] > before["seq"], (before, after)
        assert after["prev"] == before["seq"], (before, after)
    if first_prev is not None and msgs:
        assert msgs[0]["prev"] == first_prev, msgs[0]
