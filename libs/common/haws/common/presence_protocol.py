"""Messages between gateways and the presence service (msgpack over NATS).

Every gateway -> service message is a request in the ``haws-presence`` queue
group, so any replica answers and a missing reply means "retry or degrade".
The ownership record in KV ``HAWS_PRESENCE`` (key ``own.<session>``) is the
single truth; replicas keep an in-memory index of it through a KV watch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypeVar

import msgpack

from haws.protocol.errors import BadRequest

T = TypeVar("T")


def encode(message: Any) -> bytes:
    return bytes(msgpack.packb(asdict(message), use_bin_type=True))


def decode(cls: type[T], raw: bytes) -> T:
    try:
        return cls(**msgpack.unpackb(raw, raw=False))
    except (TypeError, ValueError, msgpack.UnpackException) as exc:
        raise BadRequest(f"bad {cls.__name__}: {exc!r}") from None


@dataclass(frozen=True, slots=True)
class Claim:
    """``hello`` on ``node``: this connection now owns ``session``."""

    session: str
    node: str
    conn: str
    user: str | None = None
    topics: list[str] = field(default_factory=list)
    """Presence topics restored by a resume (join only if not already a member)."""


@dataclass(frozen=True, slots=True)
class ClaimReply:
    epoch: int
    """Fencing token: newer claims have larger epochs; events carry it."""
    previous_node: str | None = None


@dataclass(frozen=True, slots=True)
class Event:
    kind: Literal["sub", "unsub", "close"]
    session: str
    node: str
    conn: str
    epoch: int
    topic: str | None = None


@dataclass(frozen=True, slots=True)
class EventReply:
    ok: bool
    stale: bool = False
    """The event's epoch is older than the record's: the connection lost the session."""


@dataclass(frozen=True, slots=True)
class Heartbeat:
    node: str
    connections: int
    sessions: list[str] = field(default_factory=list)
    """Only after a pause: the sessions this node still holds, to be checked."""


@dataclass(frozen=True, slots=True)
class HeartbeatReply:
    lease: float
    """Seconds this node may deliver without another acknowledged heartbeat."""
    lost: list[str] = field(default_factory=list)
    """Of the sessions sent, those now owned elsewhere: close them with 4009."""


@dataclass(frozen=True, slots=True)
class Query:
    topic: str


@dataclass(frozen=True, slots=True)
class Member:
    session: str
    node: str
    user: str | None = None


@dataclass(frozen=True, slots=True)
class QueryReply:
    members: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Change:
    """Published on ``haws.pres.<topic>`` by the leader."""

    kind: Literal["join", "leave"]
    topic: str
    session: str
    user: str | None = None
    revision: int = 0
    """KV revision of the record update behind it. A new leader re-sends what its
    predecessor may not have published, with the same revision, so a receiver may
    drop a (topic, session) change at a revision it has already seen."""


@dataclass(frozen=True, slots=True)
class Takeover:
    """Sent to ``haws.ctl.gateway.<node>``: close ``conn`` of ``session`` with 4009."""

    session: str
    conn: str
    epoch: int


@dataclass(frozen=True, slots=True)
class OwnerRecord:
    """KV ``own.<session>``: who holds the session, and its presence topics.

    ``last_seen`` lives in the value because a KV update drops a per-key TTL.
    """

    node: str
    conn: str
    epoch: int
    online: bool
    last_seen: float
    user: str | None = None
    topics: list[str] = field(default_factory=list)
    offline_since: float | None = None
