"""What the demo page is told about the cluster (served as ``/config.json``)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

DEFAULT_ROOMS: Final = ("lobby", "random", "ops")


@dataclass(frozen=True, slots=True)
class DemoConfig:
    endpoints: tuple[str, ...]
    """WebSocket URLs the page connects to (HAProxy's, else every gateway's)."""
    auth: str = "anonymous"
    """``jwt``: the page asks the demo server's ``/token`` for short-lived tokens."""
    rooms: tuple[str, ...] = DEFAULT_ROOMS
    nodes: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    """The gateways as ``haws up`` started them, for the page's node panel."""

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def load(cls, path: Path) -> DemoConfig:
        raw = json.loads(path.read_text())
        return cls(
            endpoints=tuple(raw["endpoints"]),
            auth=str(raw.get("auth", "anonymous")),
            rooms=tuple(raw.get("rooms", DEFAULT_ROOMS)),
            nodes=tuple(raw.get("nodes", ())),
        )
