"""Lifecycle events of ``HAWS_EVENTS``: what a backend learns about sessions.

One JSON object per change of a session's ownership record, written by the
presence leader (the one place that sees every change in order, with its
epoch). The gateway alone knows why a connection closed; it sends that as the
close event's ``reason``, taken from the close code here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from haws.protocol.errors import BadRequest, CloseCode

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

_REASON_OF_CODE: dict[int, Reason] = {
    CloseCode.DRAINED: "drain",
    CloseCode.TAKEN_OVER: "takeover",
    CloseCode.SLOW_CONSUMER: "slow_consumer",
    CloseCode.UNAUTHORIZED: "expired",  # an open connection gets 4001 only at token expiry
    CloseCode.SERVER_DISCONNECT: "server",
    CloseCode.SESSION_ENDED: "server",
    CloseCode.TRY_AGAIN_LATER: "server",
}


def reason_of_close(code: int | None) -> Reason:
    """Why a connection ended, from the close code the gateway saw or sent.

    Anything not decided by the server (the client closed, the socket dropped,
    the client broke the protocol) is ``close``.
    """
    if code is None:
        return "close"
    return _REASON_OF_CODE.get(code, "close")


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    """One event; ``id`` is unique (consumers dedupe on it), ``epoch`` fences.

    ``id`` is ``<session>:<kv revision>:<n>``: the same change always gets the
    same id, so a re-send by a new presence leader is recognisable.
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
    topic: str | None = None
    previous_node: str | None = None

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
        for name in ("reason", "topic", "previous_node"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        return json.dumps(body, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes) -> LifecycleEvent:
        try:
            body: Any = json.loads(raw)
            return cls(**body)
        except (TypeError, ValueError) as exc:
            raise BadRequest(f"bad lifecycle event: {exc}") from None
