"""Lifecycle events of ``HAWS_EVENTS``: what a backend learns about sessions.

One JSON object per change of a session's ownership record, written by the
presence leader (the one place that sees every change in order, with its
epoch) and read by the server SDK's ``EventFeed``. One class for both ends, so
the fields the server writes are the fields a backend reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any, Literal

from haws.protocol.errors import BadRequest

EventType = Literal["connect", "resume", "disconnect", "join", "leave"]
Reason = Literal["close", "takeover", "drain", "server", "expired", "node_dead", "slow_consumer"]
REASONS: tuple[Reason, ...] = (
    "close",
    "takeover",
    "drain",
    "server",
    "expired",
    "node_dead",
    "slow_consumer",
)


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    """One event; ``id`` is unique (consumers dedupe on it), ``epoch`` fences.

    ``id`` is ``<session>:<kv revision>:<n>``: the same change always gets the
    same id, so a re-send by a new presence leader is recognisable. Delivery is
    at least once: dedupe on ``id``, and drop a ``disconnect`` whose ``epoch`` is
    below the session's latest ``connect``/``resume``.
    """

    id: str
    type: EventType
    session: str
    user: str | None
    node: str
    conn: str
    epoch: int
    ts: int
    """Milliseconds since the epoch, when the change was applied."""
    reason: Reason | None = None
    """disconnect: close, takeover, drain, server, expired, node_dead or slow_consumer."""
    topic: str | None = None
    """join and leave."""
    previous_node: str | None = None
    """resume: the node the session was on."""

    def encode(self) -> bytes:
        # Field by field rather than ``asdict`` (which deep-copies): the presence
        # leader encodes one of these per lifecycle event, several per session.
        body: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "session": self.session,
            "user": self.user,
            "node": self.node,
            "conn": self.conn,
            "epoch": self.epoch,
            "ts": self.ts,
        }
        for name in _OPTIONAL:
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        return json.dumps(body, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes) -> LifecycleEvent:
        """Fields a newer server adds are ignored, so an old backend keeps reading."""
        try:
            body: Any = json.loads(raw)
            if not isinstance(body, dict):
                raise TypeError(f"an object is needed, not {type(body).__name__}")
            return cls(**{k: v for k, v in body.items() if k in _FIELDS})
        except (TypeError, ValueError) as exc:
            raise BadRequest(f"bad lifecycle event: {exc}") from None


_FIELDS = frozenset(f.name for f in fields(LifecycleEvent))
_OPTIONAL = ("reason", "topic", "previous_node")
