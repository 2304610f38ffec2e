"""How a call reaches the API: the seam between ``ServerApi`` and its two doors."""

from __future__ import annotations

from typing import Any, Protocol


class Transport(Protocol):
    async def call(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        """The method's JSON answer; ``ApiError`` with the API's code when it failed."""
        ...

    async def close(self) -> None:
        """Release what the transport opened itself (never a caller's NATS connection)."""
        ...
