"""Why a connection ended, as a lifecycle event's ``reason``.

The gateway alone knows why a connection closed; it sends that as the close
event's ``reason``, taken from the close code here. The event itself lives in
``haws.protocol.lifecycle``, shared with the server SDK; its names stay importable
from here.
"""

from __future__ import annotations

from haws.protocol.errors import CloseCode
from haws.protocol.lifecycle import REASONS as REASONS
from haws.protocol.lifecycle import EventType as EventType
from haws.protocol.lifecycle import LifecycleEvent as LifecycleEvent
from haws.protocol.lifecycle import Reason

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
