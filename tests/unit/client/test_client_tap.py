"""The wire tap ``Client(on_frame=...)``: every server frame, before dedupe, with its connection."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from haws.client import Client
from haws.client.connection import Connection, Ended, FrameHandler


class ScriptedConnection:
    """Stands in for ``Connection``: a welcome, then the given frames, then a close."""

    def __init__(self, url: str, node: str, frames: list[dict[str, Any]]) -> None:
        self.url = url
        self.node = node
        self.session = "s1"
        self.welcome = {"op": "welcome", "session": "s1", "node": node, "resumed": False}
        self._frames = frames

    async def run(self, on_frame: FrameHandler, **_: Any) -> Ended:
        for frame in self._frames:
            await on_frame(frame)
        return Ended(code=1006)

    async def send_encoded(self, data: bytes) -> bool:
        return True


def msg(seq: int, prev: int) -> dict[str, Any]:
    return {"op": "msg", "topic": "t", "seq": seq, "prev": prev, "ts": 0, "data": seq}


async def test_the_tap_sees_duplicates_the_sdk_drops_and_numbers_connections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scripts = [
        ScriptedConnection("ws://a/ws", "gw-a", [msg(1, 0), msg(2, 1)]),
        # The resume overlaps: seq 2 again, which the SDK drops as a duplicate.
        ScriptedConnection("ws://b/ws", "gw-b", [msg(2, 1), msg(3, 2)]),
    ]

    async def open_connection(*_: Any, **__: Any) -> ScriptedConnection:
        return scripts.pop(0)

    monkeypatch.setattr(Connection, "open", open_connection)
    seen: list[tuple[int, str, int | None]] = []

    def tap(frame: dict[str, Any], connection: int) -> None:
        seen.append((connection, frame["op"], frame.get("seq")))
        if frame.get("seq") == 1:
            raise RuntimeError("a failing tap is logged and ignored")

    client = Client(["ws://a/ws", "ws://b/ws"], discover=False, on_frame=tap)
    client._session.cursors.add("t", since=0, presence=False)
    async with aiohttp.ClientSession() as http:  # never used: open() is scripted
        for _ in range(2):
            await client._connect_and_serve(http, "unused")

    assert seen == [
        (1, "welcome", None),
        (1, "msg", 1),
        (1, "msg", 2),
        (2, "welcome", None),
        (2, "msg", 2),
        (2, "msg", 3),
    ]
    assert client.stats.delivered == 3
    assert client.stats.duplicates_dropped == 1
    await client.close()


async def test_without_a_tap_frames_go_straight_to_the_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def open_connection(*_: Any, **__: Any) -> ScriptedConnection:
        return ScriptedConnection("ws://a/ws", "gw-a", [msg(1, 0)])

    monkeypatch.setattr(Connection, "open", open_connection)
    client = Client("ws://a/ws", discover=False)
    client._session.cursors.add("t", since=0, presence=False)
    async with aiohttp.ClientSession() as http:  # never used: open() is scripted
        await client._connect_and_serve(http, "unused")
    assert client.stats.delivered == 1
    await client.close()
