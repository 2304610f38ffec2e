"""Small fakes shared by the presence unit tests."""

from __future__ import annotations

from haws.common.logs import get_logger
from haws.common.presence_protocol import Change, decode

LOG = get_logger("presence-test")


class ManualClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ListSink:
    """A ``ChangeSink`` that keeps what was published."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []
        self.flushes = 0

    async def publish(self, subject: str, payload: bytes) -> None:
        self.sent.append((subject, payload))

    async def flush(self) -> None:
        self.flushes += 1

    def changes(self) -> list[Change]:
        return [decode(Change, payload) for _, payload in self.sent]
