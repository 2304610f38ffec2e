"""The server API's requests: one frozen dataclass per method, validated from JSON.

Both doors parse here, so a request means the same over NATS and HTTP, and a
bad one is the same ``bad_request`` (or ``too_large``) wherever it came from.
Unknown fields are refused: a typo must not be silently ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from haws.protocol.client_frames import MID_MAX_LEN, valid_topic
from haws.protocol.errors import BadRequest, CloseCode, NotFound

SESSION_MAX_LEN = 128
USER_MAX_LEN = 256
REASON_MAX_LEN = 120


@dataclass(frozen=True, slots=True)
class Limits:
    max_broadcast_topics: int = 100
    max_history: int = 1000


@dataclass(frozen=True, slots=True)
class Publish:
    topic: str
    data: Any
    mid: str | None = None
    expect_seq: int | None = None
    """Store only if the topic's last seq is this (else ``conflict``); 0: only if empty."""


@dataclass(frozen=True, slots=True)
class Broadcast:
    topics: tuple[str, ...]
    data: Any
    mid: str | None = None


@dataclass(frozen=True, slots=True)
class Presence:
    topic: str


@dataclass(frozen=True, slots=True)
class PresenceStats:
    topic: str


@dataclass(frozen=True, slots=True)
class History:
    topic: str
    since: int = 0
    limit: int = 100


@dataclass(frozen=True, slots=True)
class Disconnect:
    user: str | None
    session: str | None
    code: int
    reason: str
    reconnect: bool


@dataclass(frozen=True, slots=True)
class Info:
    pass


ApiRequest = Publish | Broadcast | Presence | PresenceStats | History | Disconnect | Info
FIELDS: dict[str, tuple[set[str], set[str]]] = {
    "publish": ({"topic", "data"}, {"mid", "expect_seq"}),
    "broadcast": ({"topics", "data"}, {"mid"}),
    "presence": ({"topic"}, set()),
    "presence_stats": ({"topic"}, set()),
    "history": ({"topic"}, {"since", "limit"}),
    "disconnect": (set(), {"user", "session", "code", "reason", "reconnect"}),
    "info": (set(), set()),
}
"""Per method: required and optional fields."""


def decode_body(raw: bytes) -> dict[str, Any]:
    """A request body: one JSON object (an empty body is ``{}``)."""
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    return body


def _topic(value: Any, field: str = "topic") -> str:
    if not valid_topic(value):
        raise BadRequest(f"{field}: 1-200 characters of A-Z a-z 0-9 _ - : in dot-separated tokens")
    return str(value)


def _int(body: dict[str, Any], field: str, default: int | None, low: int, high: int) -> int | None:
    value = body.get(field, default)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise BadRequest(f"{field}: an integer in {low}..{high}")
    return value


def _str(body: dict[str, Any], field: str, max_len: int) -> str | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= max_len:
        raise BadRequest(f"{field}: a string of 1..{max_len} characters")
    return value


def parse(method: str, body: dict[str, Any], limits: Limits) -> ApiRequest:
    """The request of ``method``; ``not_found`` for an unknown method."""
    if method not in FIELDS:
        raise NotFound(f"no method {method!r}")
    required, optional = FIELDS[method]
    missing = required - body.keys()
    if missing:
        raise BadRequest(f"missing field(s): {', '.join(sorted(missing))}")
    unknown = body.keys() - required - optional
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}")
    mid = _str(body, "mid", MID_MAX_LEN)
    if method == "publish":
        expect = _int(body, "expect_seq", None, 0, 2**63)
        return Publish(_topic(body["topic"]), body["data"], mid, expect)
    if method == "broadcast":
        return Broadcast(_topics(body["topics"], limits), body["data"], mid)
    if method == "presence":
        return Presence(_topic(body["topic"]))
    if method == "presence_stats":
        return PresenceStats(_topic(body["topic"]))
    if method == "history":
        since = _int(body, "since", 0, 0, 2**63) or 0
        limit = _int(body, "limit", min(100, limits.max_history), 1, limits.max_history) or 1
        return History(_topic(body["topic"]), since, limit)
    if method == "disconnect":
        return _disconnect(body)
    return Info()


def _topics(value: Any, limits: Limits) -> tuple[str, ...]:
    cap = limits.max_broadcast_topics
    if not isinstance(value, list) or not 0 < len(value) <= cap:
        raise BadRequest(f"topics: a list of 1..{cap} topics")
    topics = tuple(_topic(t, "topics[]") for t in value)
    if len(set(topics)) != len(topics):
        raise BadRequest("topics: each topic once")
    return topics


def _disconnect(body: dict[str, Any]) -> Disconnect:
    user = _str(body, "user", USER_MAX_LEN)
    session = _str(body, "session", SESSION_MAX_LEN)
    if (user is None) == (session is None):
        raise BadRequest("name exactly one of user and session")
    reconnect = body.get("reconnect", True)
    if not isinstance(reconnect, bool):
        raise BadRequest("reconnect: true or false")
    default = CloseCode.SERVER_DISCONNECT if reconnect else CloseCode.SESSION_ENDED
    code = _int(body, "code", int(default), 4000, 4999) or int(default)
    reason = _str(body, "reason", REASON_MAX_LEN) or "disconnected by the server"
    return Disconnect(user, session, code, reason, reconnect)
