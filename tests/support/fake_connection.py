"""A connection for unit tests of catch-up and fan-out: frames go to a real
``SendQueue`` and come back decoded, no socket. It is a ``fanout.Subscriber``."""

from __future__ import annotations

import json
from typing import Any

from haws.gateway.delivery.send_queue import SendQueue
from haws.protocol.codec import JSON, Codec


class FakeConnection:
    def __init__(self, session: str = "s-fake") -> None:
        self.codec: Codec = JSON
        self.session = session
        self.queue = SendQueue(4096, 1 << 20)
        self.closed: tuple[int, str] | None = None
        self.batch = False

    @property
    def closing(self) -> bool:
        return self.closed is not None

    def send(self, frame: bytes) -> bool:
        return self.queue.put(frame)

    def write_run(self, data: bytes, frames: list[bytes], size: int) -> None:
        for frame in frames:
            if not self.send(frame):
                return

    def send_obj(self, frame: dict[str, Any]) -> bool:
        return self.queue.put(JSON.encode(frame))

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def frames(self) -> list[dict[str, Any]]:
        return [json.loads(f) for f in self.queue.take_all()]


def msg_seqs(frames: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """(seq, prev) of the ``msg`` frames, in order."""
    return [(f["seq"], f["prev"]) for f in frames if f["op"] == "msg"]
