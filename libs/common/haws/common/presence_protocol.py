"""Messages between gateways and the presence service (msgpack over NATS).

Every gateway -> service message is a request in the ``haws-presence`` queue
group, so any replica answers and a missing reply means "retry or degrade".
The ownership record in KV ``HAWS_PRESENCE`` (key ``own.<session>``) is the
single truth; replicas keep an in-memory index of it through a KV watch.
"""

from __future__ import annotations

from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any, Literal, TypeVar

import msgpack

from haws.protocol.errors import BadRequest

T = TypeVar("T")


OMIT_DEFAULT: Any = {"omit_default": True}
"""Field metadata: left off the wire at its default, so a field added later reaches
only readers that know it (``decode`` refuses unknown fields: an older replica
keeps working with a newer gateway until the field is used)."""


_Layout = tuple[tuple[str, bool, Any], ...]
_layouts: dict[type[Any], _Layout] = {}
_known_fields: dict[type[Any], frozenset[str]] = {}


def _layout(cls: type[Any]) -> _Layout:
    """Per class, once: (name, omitted at its default, default) of every field.

    ``dataclasses.asdict`` walks ``fields()`` and deep-copies every value on each
    call; it was an eighth of a presence replica's CPU in a claim storm. The
    messages here are flat (scalars and lists of them), so a shallow dict packs
    to the same bytes.
    """
    layout = _layouts.get(cls)
    if layout is None:
        layout = tuple(
            (f.name, bool(f.metadata.get("omit_default")), _default(f)) for f in fields(cls)
        )
        _layouts[cls] = layout
    return layout


def _default(f: Field[Any]) -> Any:
    if f.default_factory is not MISSING:
        return f.default_factory()
    return f.default


def _known(cls: type[Any]) -> frozenset[str]:
    known = _known_fields.get(cls)
    if known is None:
        known = _known_fields[cls] = frozenset(f.name for f in fields(cls))
    return known


def _body(message: Any) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name, omit, default in _layout(type(message)):
        value = getattr(message, name)
        if omit and value == default:
            continue
        body[name] = value
    return body


def encode(message: Any) -> bytes:
    return bytes(msgpack.packb(_body(message), use_bin_type=True))


def _from_body(cls: type[T], body: dict[str, Any]) -> T:
    """Fields this version does not know are ignored, so a newer peer's additions
    (like ``reason``) never make an older one drop the whole message."""
    known = _known(cls)
    if known.issuperset(body):  # the usual case: no field to drop
        return cls(**body)
    return cls(**{k: v for k, v in body.items() if k in known})


_DECODE_ERRORS = (TypeError, ValueError, AttributeError, msgpack.UnpackException)


def decode(cls: type[T], raw: bytes) -> T:
    try:
        return _from_body(cls, msgpack.unpackb(raw, raw=False))
    except _DECODE_ERRORS as exc:
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
    fresh: bool = field(default=False, metadata=OMIT_DEFAULT)
    """The session was minted by this hello, whose ``welcome`` did not wait for the
    claim (issue 14): claim it only if no claim of it landed yet. One that did
    came from a resume elsewhere after this welcome, so it is the newer one."""


@dataclass(frozen=True, slots=True)
class ClaimReply:
    epoch: int
    """Fencing token: newer claims have larger epochs; events carry it."""
    previous_node: str | None = None
    superseded: bool = field(default=False, metadata=OMIT_DEFAULT)
    """A ``fresh`` claim found the session claimed already: nothing was written, and
    the claiming connection is the older one (it is closed with 4009)."""


@dataclass(frozen=True, slots=True)
class Event:
    kind: Literal["sub", "unsub", "close"]
    session: str
    node: str
    conn: str
    epoch: int
    topic: str | None = None
    reason: str | None = None
    """(close) why the connection ended, as ``haws.common.lifecycle.reason_of_close``."""


@dataclass(frozen=True, slots=True)
class EventReply:
    ok: bool
    stale: bool = False
    """The event's epoch is older than the record's: the connection lost the session."""


BATCH_MAX = 256
"""Claims plus events one ``Batch`` may carry; a replica refuses a larger one."""


@dataclass(frozen=True, slots=True)
class Batch:
    """(issue 14) Claims and events of many sessions in one request on
    ``haws.presence.batch``: one message each way instead of one per item.

    Each item is applied exactly as alone on its own subject. Claims are
    applied before events; the events of one session in the order given, and
    after one of them fails (not applied, not stale) the session's later events
    are not tried, so a sender that retries every failed item in order keeps
    each session's order.
    """

    claims: list[Claim] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def encode(self) -> bytes:
        return _pack_lists(self.claims, self.events)

    @classmethod
    def decode(cls, raw: bytes) -> Batch:
        claims, events = _unpack_lists(raw, Claim, Event, cls.__name__)
        if len(claims) + len(events) > BATCH_MAX:
            raise BadRequest(f"a batch carries at most {BATCH_MAX} claims and events")
        return cls(claims, events)


@dataclass(frozen=True, slots=True)
class BatchReply:
    """One reply per item of the ``Batch``, in its order."""

    claims: list[ClaimReply] = field(default_factory=list)
    events: list[EventReply] = field(default_factory=list)

    def encode(self) -> bytes:
        return _pack_lists(self.claims, self.events)

    @classmethod
    def decode(cls, raw: bytes) -> BatchReply:
        claims, events = _unpack_lists(raw, ClaimReply, EventReply, cls.__name__)
        return cls(claims, events)


def _pack_lists(claims: list[Any], events: list[Any]) -> bytes:
    body = {"claims": [_body(c) for c in claims], "events": [_body(e) for e in events]}
    return bytes(msgpack.packb(body, use_bin_type=True))


_C = TypeVar("_C")
_E = TypeVar("_E")


def _unpack_lists(
    raw: bytes, claim_cls: type[_C], event_cls: type[_E], name: str
) -> tuple[list[_C], list[_E]]:
    try:
        body = msgpack.unpackb(raw, raw=False)
        claims = [_from_body(claim_cls, item) for item in body.get("claims", ())]
        events = [_from_body(event_cls, item) for item in body.get("events", ())]
    except _DECODE_ERRORS as exc:
        raise BadRequest(f"bad {name}: {exc!r}") from None
    return claims, events


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
    sample: bool = field(default=False, metadata=OMIT_DEFAULT)
    """(haws) The topic is in counts-only mode: ``members`` is a bounded sample and
    ``count``/``users`` are the totals."""
    count: int = field(default=0, metadata=OMIT_DEFAULT)
    users: int = field(default=0, metadata=OMIT_DEFAULT)


@dataclass(frozen=True, slots=True)
class Change:
    """Published on ``haws.pres.<topic>`` by the leader.

    ``counts`` and ``members`` (haws) belong to counts-only mode for large topics:
    ``counts`` carries the totals instead of per-member join/leave, ``members``
    the full list when the topic goes back to per-member mode. Their
    ``session`` is empty and ``revision`` is the last one applied when sent.
    """

    kind: Literal["join", "leave", "counts", "members"]
    topic: str
    session: str
    user: str | None = None
    revision: int = 0
    """KV revision of the record update behind it. A new leader re-sends what its
    predecessor may not have published, with the same revision, so a receiver may
    drop a (topic, session) change at a revision it has already seen."""
    count: int = field(default=0, metadata=OMIT_DEFAULT)
    """(counts, members) members of the topic."""
    users: int = field(default=0, metadata=OMIT_DEFAULT)
    """(counts, members) distinct user ids among them (anonymous sessions have none)."""
    members: list[dict[str, Any]] = field(default_factory=list, metadata=OMIT_DEFAULT)
    """(members) the whole member list, as in a query reply."""


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
    reason: str | None = None
    """Why it went offline (close reason, or ``node_dead``): the lifecycle event's."""
