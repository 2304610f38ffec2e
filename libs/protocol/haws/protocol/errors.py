"""One error root for haws, categories by inheritance, and the close-code table.

The root lives here, in the layer the SDK ships, so a client catches the same
classes the gateway raises; server-only categories derive from it in
``haws.common.errors``.

Protocol errors carry the wire ``code`` so the edge turns any of them into an
``error`` frame or a close without string matching.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class HawsError(Exception):
    """Root of every error haws raises on purpose."""


class ProtocolError(HawsError):
    """A client request that cannot be served; becomes an ``error`` frame."""

    code = "bad_request"

    def __init__(self, message: str, *, request_id: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id


class BadRequest(ProtocolError):
    code = "bad_request"


class Unauthorized(ProtocolError):
    code = "unauthorized"


class Forbidden(ProtocolError):
    code = "forbidden"


class NotFound(ProtocolError):
    code = "not_found"


class TooLarge(ProtocolError):
    code = "too_large"


class RateLimited(ProtocolError):
    code = "rate_limited"


class Unavailable(ProtocolError):
    code = "unavailable"


class Internal(ProtocolError):
    code = "internal"


class FrameDecodeError(BadRequest):
    """The bytes are not one object of the connection's codec (close 4002)."""


class CloseCode(enum.IntEnum):
    DRAINED = 4000
    UNAUTHORIZED = 4001
    PROTOCOL = 4002
    SLOW_CONSUMER = 4008
    TAKEN_OVER = 4009
    TOO_LARGE = 1009
    TRY_AGAIN_LATER = 1013
    NORMAL = 1000
    GOING_AWAY = 1001


@dataclass(frozen=True, slots=True)
class CloseAdvice:
    reconnect: bool
    resumable: bool
    meaning: str


CLOSE_ADVICE: dict[CloseCode, CloseAdvice] = {
    CloseCode.DRAINED: CloseAdvice(True, True, "node drained or asked the client to move"),
    CloseCode.UNAUTHORIZED: CloseAdvice(False, False, "bad or expired credentials"),
    CloseCode.PROTOCOL: CloseAdvice(True, True, "no or bad hello, unparseable frame"),
    CloseCode.SLOW_CONSUMER: CloseAdvice(True, True, "client read too slowly; nothing lost"),
    CloseCode.TAKEN_OVER: CloseAdvice(False, False, "a newer connection took the session"),
    CloseCode.TOO_LARGE: CloseAdvice(True, True, "frame over the size limit"),
    CloseCode.TRY_AGAIN_LATER: CloseAdvice(True, True, "node overloaded"),
    CloseCode.NORMAL: CloseAdvice(False, False, "closed normally"),
    CloseCode.GOING_AWAY: CloseAdvice(True, True, "server going away"),
}
