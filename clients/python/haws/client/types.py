"""What the SDK hands to applications: messages, acks, states, counters, errors.

Errors hang off ``haws.protocol.errors.HawsError`` so one ``except HawsError``
catches everything haws raises; a failed request raises the same
``ProtocolError`` subclass the gateway raised (``BadRequest``, ``Forbidden``...).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Final

from haws.protocol.errors import (
    BadRequest,
    Forbidden,
    HawsError,
    Internal,
    NotFound,
    ProtocolError,
    RateLimited,
    TooLarge,
    Unauthorized,
    Unavailable,
)


@dataclass(frozen=True, slots=True)
class Message:
    """One ``msg`` as the application sees it, exactly once per topic and seq."""

    topic: str
    seq: int
    prev: int
    ts: int
    data: Any
    mid: str | None = None
    sender: str | None = None


@dataclass(frozen=True, slots=True)
class PresenceCounts:
    """(haws) A ``counts`` frame: a large topic is counts-only, its totals replace join/leave.

    Large topics would cost every presence subscriber one frame per member change;
    the server coalesces them into these totals instead (at most one per interval).
    """

    topic: str
    count: int
    """Member sessions of the topic."""
    users: int
    """Distinct user ids among them (0 in anonymous mode)."""
    members: list[dict[str, Any]] | None = None
    """Set when the topic went back to per-member mode: the whole member list, after
    which join/leave resume."""


@dataclass(frozen=True, slots=True)
class PresenceMember:
    """One member session of a topic, as ``presence`` answers and ``join``/``leave`` name it.

    The wire has no online/offline flag: a session is listed while it is a member
    (a session whose connection dropped stays one for the presence grace, so a
    quick reconnect does not flap), and not at all once it left.
    """

    session: str
    user: str | None = None
    """The user id of an authenticated session; ``None`` for an anonymous one."""
    node: str | None = None
    """The gateway node that owns the session; ``presence`` answers carry it,
    ``join``/``leave`` do not."""


@dataclass(frozen=True, slots=True)
class PresenceAnswer:
    """A ``presence`` answer: who is on the topic now.

    (haws) On a counts-only (large) topic ``sample`` is true, ``members`` is a
    bounded sample (``HAWS_PRESENCE_SAMPLE``) and ``count``/``users`` are the
    totals; on any other topic ``members`` is the whole list and both are ``None``.
    """

    topic: str
    members: tuple[PresenceMember, ...]
    count: int | None = None
    """(haws) Member sessions of a counts-only topic."""
    users: int | None = None
    """(haws) Distinct user ids among them (0 in anonymous mode)."""
    sample: bool = False


@dataclass(frozen=True, slots=True)
class PubAck:
    """The stored position of a publish; ``dup`` says a retry found it already stored."""

    seq: int
    dup: bool


class State(enum.Enum):
    IDLE = "idle"
    """Created; ``connect()`` / ``start()`` not called yet."""
    CONNECTING = "connecting"
    """Opening the first connection."""
    CONNECTED = "connected"
    """A gateway welcomed us; requests flow."""
    RECONNECTING = "reconnecting"
    """The connection was lost; backing off or opening the next one."""
    CLOSED = "closed"
    """Final: closed by the application, or a close code that forbids retrying."""


@dataclass(slots=True)
class Stats:
    """Counters since the client was created (``Client.stats`` returns a copy)."""

    connects: int = 0
    """Connections that got a ``welcome`` (the first one included)."""
    reconnects: int = 0
    """Connections after the first one."""
    resumes: int = 0
    """Reconnects that presented the session and cursors in ``hello``."""
    delivered: int = 0
    """Messages handed to the application."""
    duplicates_dropped: int = 0
    """Messages dropped because their seq was at or below the topic's cursor."""
    gaps: int = 0
    """``prev`` breaks plus ``recovered complete:false`` reports (see ``on_gap``)."""
    sent: int = 0
    """``pub`` frames written, retries included."""
    acked: int = 0
    """Publishes acknowledged (each counted once)."""


class ClientError(HawsError):
    """Root of the errors the SDK raises itself."""


class ClientClosed(ClientError):
    """The client is closed; waits on it (publish, subscribe, iterators) end with this."""


class AuthenticationFailed(ClientClosed):
    """The gateway closed with 4001: the credentials are wrong; retrying will not help."""


class SessionTakenOver(ClientClosed):
    """The gateway closed with 4009: a newer connection owns this session now."""


class OutboxFull(ClientError):
    """``outbox_limit`` publishes already wait for their ack."""


_ERRORS: Final[dict[str, type[ProtocolError]]] = {
    cls.code: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        TooLarge,
        RateLimited,
        Unavailable,
        Internal,
    )
}


def error_of(frame: dict[str, Any]) -> ProtocolError:
    """The typed error an ``error`` frame stands for (unknown codes: ``ProtocolError``)."""
    code = str(frame.get("code", ""))
    message = str(frame.get("message", code))
    rid = frame.get("id")
    cls = _ERRORS.get(code)
    if cls is None:
        exc = ProtocolError(message, request_id=rid if isinstance(rid, int) else None)
        exc.code = code
        return exc
    return cls(message, request_id=rid if isinstance(rid, int) else None)


def member_of(obj: Any) -> PresenceMember | None:
    """The member a ``who`` or ``members`` entry names; ``None`` for one without a session
    (dropped alone, so one bad entry does not cost the whole list)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("session"), str):
        return None
    user, node = obj.get("user"), obj.get("node")
    return PresenceMember(
        session=obj["session"],
        user=user if isinstance(user, str) else None,
        node=node if isinstance(node, str) else None,
    )


def members_of(entries: Any) -> tuple[PresenceMember, ...]:
    """The members of a ``members`` list (anything but a list: none)."""
    if not isinstance(entries, list):
        return ()
    found = (member_of(entry) for entry in entries)
    return tuple(member for member in found if member is not None)


def answer_of(frame: dict[str, Any]) -> PresenceAnswer:
    """The ``PresenceAnswer`` a ``presence`` frame carries."""
    members = members_of(frame.get("members"))
    topic = str(frame.get("topic", ""))
    if frame.get("sample") is not True:
        return PresenceAnswer(topic=topic, members=members)
    return PresenceAnswer(
        topic=topic,
        members=members,
        count=int(frame.get("count", len(members))),
        users=int(frame.get("users", 0)),
        sample=True,
    )
