"""Server-to-client frames of protocol v1, built as plain dicts for the codecs.

Functions rather than classes because ``msg`` is on the hot path: one dict per
message, encoded once per codec and shared by every local subscriber.
"""

from __future__ import annotations

from typing import Any

from haws.common.messages import StoredMessage
from haws.protocol.errors import ProtocolError


def welcome(session: str, node: str, resumed: bool, heartbeat: float, ttl: float) -> dict[str, Any]:
    return {
        "op": "welcome",
        "session": session,
        "node": node,
        "resumed": resumed,
        "heartbeat": heartbeat,
        "ttl": ttl,
    }


def ok(request_id: int, topic: str, seq: int) -> dict[str, Any]:
    return {"op": "ok", "id": request_id, "topic": topic, "seq": seq}


def ack(request_id: int, seq: int, dup: bool) -> dict[str, Any]:
    return {"op": "ack", "id": request_id, "seq": seq, "dup": dup}


def msg(message: StoredMessage, data: Any) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "op": "msg",
        "topic": message.topic,
        "seq": message.seq,
        "prev": message.prev,
        "ts": message.ts,
        "data": data,
    }
    if message.sender:
        frame["from"] = message.sender
    if message.mid:
        frame["mid"] = message.mid
    return frame


def recovered(topic: str, gap: tuple[int, int] | None) -> dict[str, Any]:
    if gap is None:
        return {"op": "recovered", "topic": topic, "complete": True}
    return {"op": "recovered", "topic": topic, "complete": False, "from": gap[0], "to": gap[1]}


def presence(
    request_id: int, topic: str, members: list[dict[str, Any]], **counts: Any
) -> dict[str, Any]:
    """``counts`` (haws): ``count``, ``users`` and ``sample`` of a counts-only topic."""
    return {"op": "presence", "id": request_id, "topic": topic, "members": members, **counts}


def pong(request_id: int | None) -> dict[str, Any]:
    return {"op": "pong"} if request_id is None else {"op": "pong", "id": request_id}


def refreshed(request_id: int | None, exp: float | None) -> dict[str, Any]:
    """Reply to ``refresh``: ``exp`` is the new token's expiry (absent in anonymous mode)."""
    frame: dict[str, Any] = {"op": "refreshed"}
    if request_id is not None:
        frame["id"] = request_id
    if exp is not None:
        frame["exp"] = int(exp)
    return frame


def reconnect(reason: str, delay_ms: int) -> dict[str, Any]:
    return {"op": "reconnect", "reason": reason, "delay": delay_ms}


def error(exc: ProtocolError) -> dict[str, Any]:
    frame: dict[str, Any] = {"op": "error", "code": exc.code, "message": exc.message}
    if exc.request_id is not None:
        frame["id"] = exc.request_id
    return frame
