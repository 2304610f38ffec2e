"""Protocol v1 client frames as frozen dataclasses, validated at construction.

``parse_client_frame`` is the only way a decoded dict becomes a request; every
failure is a typed ``ProtocolError`` carrying the request ``id`` when there is one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from haws.protocol.errors import BadRequest

PROTOCOL_VERSION: Final = 1
TOPIC_MAX_LEN: Final = 200
MID_MAX_LEN: Final = 128
SESSION_MAX_LEN: Final = 128
TOKEN_MAX_LEN: Final = 8192
DATA_MAX_DEPTH: Final = 100
"""Nesting of ``pub.data``: deeper payloads cannot be re-encoded for every subscriber."""
_INT_RANGE: Final = range(-(1 << 63), 1 << 64)
_SCALARS: Final = frozenset({str, float, bool, bytes, type(None)})

_TOPIC_RE: Final = re.compile(r"[A-Za-z0-9_\-:]+(?:\.[A-Za-z0-9_\-:]+)*")
_SESSION_RE: Final = re.compile(r"[A-Za-z0-9_\-]{1,128}")


def valid_topic(topic: object) -> bool:
    return (
        isinstance(topic, str)
        and 0 < len(topic) <= TOPIC_MAX_LEN
        and _TOPIC_RE.fullmatch(topic) is not None
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_topic(topic: object, request_id: int | None) -> str:
    if not valid_topic(topic):
        raise BadRequest(
            "topic must be 1-200 characters of A-Z a-z 0-9 _ - : in '.'-separated tokens",
            request_id=request_id,
        )
    return str(topic)


def _check_seq(value: object, name: str, request_id: int | None) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadRequest(f"{name} must be an integer >= 0", request_id=request_id)
    return value


def _check_bool(value: object, name: str, request_id: int | None) -> bool:
    if not isinstance(value, bool):
        raise BadRequest(f"{name} must be true or false", request_id=request_id)
    return value


def _check_data(data: object, request_id: int) -> None:
    """Refuse what one codec decodes but another cannot encode (msgpack ext types,
    non-string keys, ints over 64 bits, nesting past what the encoders take):
    stored, such a message would fail every delivery of its topic."""
    stack: list[tuple[Any, int]] = [([data], -1)]
    while stack:
        container, depth = stack.pop()
        if depth >= DATA_MAX_DEPTH:
            raise BadRequest(
                f"data nested deeper than {DATA_MAX_DEPTH} levels", request_id=request_id
            )
        if type(container) is dict:
            if not all(type(key) is str for key in container):
                raise BadRequest("data object keys must be strings", request_id=request_id)
            container = container.values()
        for item in container:
            kind = type(item)
            if kind in _SCALARS:
                continue
            if kind is dict or kind is list:
                stack.append((item, depth + 1))
            elif kind is not int or item not in _INT_RANGE:
                raise BadRequest(
                    "data must be JSON values (or bytes with msgpack), integers within 64 bits",
                    request_id=request_id,
                )


def _check_str(value: object, name: str, max_len: int, request_id: int | None) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= max_len:
        raise BadRequest(
            f"{name} must be a string of 1-{max_len} characters", request_id=request_id
        )
    return value


@dataclass(frozen=True, slots=True)
class Hello:
    v: int = PROTOCOL_VERSION
    token: str | None = None
    session: str | None = None
    cursors: dict[str, int] = field(default_factory=dict)
    batch: bool = False


@dataclass(frozen=True, slots=True)
class Sub:
    id: int
    topic: str
    since: int | None = None
    presence: bool = False


@dataclass(frozen=True, slots=True)
class Unsub:
    id: int
    topic: str


@dataclass(frozen=True, slots=True)
class Pub:
    id: int
    topic: str
    data: Any
    mid: str | None = None


@dataclass(frozen=True, slots=True)
class PresenceQuery:
    id: int
    topic: str


@dataclass(frozen=True, slots=True)
class Ping:
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Refresh:
    """A newer token for the same user, sent before the current one expires."""

    token: str
    id: int | None = None


ClientFrame = Hello | Sub | Unsub | Pub | PresenceQuery | Ping | Refresh


def _optional_id(obj: dict[str, Any]) -> int | None:
    rid = obj.get("id")
    if rid is None:
        return None
    if not _is_int(rid):
        raise BadRequest("id must be an integer")
    return int(rid)


def _required_id(obj: dict[str, Any]) -> int:
    rid = _optional_id(obj)
    if rid is None:
        raise BadRequest("id (an integer) is required")
    return rid


def _parse_hello(obj: dict[str, Any]) -> Hello:
    v = obj.get("v", PROTOCOL_VERSION)
    if v != PROTOCOL_VERSION or not _is_int(v):
        raise BadRequest(f"unsupported protocol version {v!r}; this node speaks 1")
    token = obj.get("token")
    if token is not None:
        _check_str(token, "token", TOKEN_MAX_LEN, None)
    session = obj.get("session")
    if session is not None and (
        not isinstance(session, str) or _SESSION_RE.fullmatch(session) is None
    ):
        raise BadRequest("session must be 1-128 characters of A-Z a-z 0-9 _ -")
    raw_cursors = obj.get("cursors")
    if raw_cursors is None:
        raw_cursors = {}
    if not isinstance(raw_cursors, dict):
        raise BadRequest("cursors must be an object of topic -> seq")
    cursors = {check_topic(t, None): _check_seq(s, "cursor", None) for t, s in raw_cursors.items()}
    batch = _check_bool(obj.get("batch", False), "batch", None)
    return Hello(v=PROTOCOL_VERSION, token=token, session=session, cursors=cursors, batch=batch)


def _parse_sub(obj: dict[str, Any]) -> Sub:
    rid = _required_id(obj)
    topic = check_topic(obj.get("topic"), rid)
    since = obj.get("since")
    if since is not None:
        since = _check_seq(since, "since", rid)
    presence = _check_bool(obj.get("presence", False), "presence", rid)
    return Sub(id=rid, topic=topic, since=since, presence=presence)


def _parse_unsub(obj: dict[str, Any]) -> Unsub:
    rid = _required_id(obj)
    return Unsub(id=rid, topic=check_topic(obj.get("topic"), rid))


def _parse_pub(obj: dict[str, Any]) -> Pub:
    rid = _required_id(obj)
    topic = check_topic(obj.get("topic"), rid)
    if "data" not in obj:
        raise BadRequest("pub needs data", request_id=rid)
    mid = obj.get("mid")
    if mid is not None:
        _check_str(mid, "mid", MID_MAX_LEN, rid)
    _check_data(obj["data"], rid)
    return Pub(id=rid, topic=topic, data=obj["data"], mid=mid)


def _parse_presence(obj: dict[str, Any]) -> PresenceQuery:
    rid = _required_id(obj)
    return PresenceQuery(id=rid, topic=check_topic(obj.get("topic"), rid))


def _parse_ping(obj: dict[str, Any]) -> Ping:
    return Ping(id=_optional_id(obj))


def _parse_refresh(obj: dict[str, Any]) -> Refresh:
    rid = _optional_id(obj)
    token = _check_str(obj.get("token"), "token", TOKEN_MAX_LEN, rid)
    return Refresh(token=token, id=rid)


_PARSERS: Final[dict[str, Callable[[dict[str, Any]], ClientFrame]]] = {
    "hello": _parse_hello,
    "sub": _parse_sub,
    "unsub": _parse_unsub,
    "pub": _parse_pub,
    "presence": _parse_presence,
    "ping": _parse_ping,
    "refresh": _parse_refresh,
}


def parse_client_frame(obj: dict[str, Any]) -> ClientFrame:
    op = obj.get("op")
    parser = _PARSERS.get(op) if isinstance(op, str) else None
    if parser is None:
        rid = obj.get("id")
        raise BadRequest(f"unknown op {op!r}", request_id=rid if _is_int(rid) else None)
    return parser(obj)
