"""How an ownership record changes: pure functions of the old record, the request and the time.

Kept free of I/O so the rules (epochs, fencing, grace) are tested alone; the
compare-and-set loop in ``ownership`` applies them to whatever it last read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from haws.common.presence_protocol import Claim, Event, OwnerRecord, Takeover
from haws.protocol.errors import HawsError


class StaleEvent(HawsError):
    """The event's connection no longer owns the session (fenced by a newer claim)."""


NODE_DEAD: Final = "node_dead"
"""The offline reason the leader's dead-node pass writes."""


@dataclass(frozen=True, slots=True)
class Grace:
    """How long an offline session stays a member before it leaves, by why it went
    offline.

    A connection that closed (the client left, its network dropped) comes back
    alone, quickly or not at all: ``closed``. The sessions of a gateway that died
    come back together, re-admitted by the survivors in a reconnect storm that
    takes seconds per thousand clients on a loaded cluster: ``node_dead`` is longer
    (15 s by default, Ably's figure for an abrupt loss), so a resume that waited its
    turn does not show as a leave and a join.
    """

    closed: float
    node_dead: float

    @classmethod
    def uniform(cls, seconds: float) -> Grace:
        return cls(seconds, seconds)

    def of(self, record: OwnerRecord) -> float:
        return self.node_dead if record.reason == NODE_DEAD else self.closed


def offline_since(record: OwnerRecord) -> float:
    return record.offline_since if record.offline_since is not None else record.last_seen


def visible(record: OwnerRecord, now: float, grace: Grace) -> bool:
    """Online, or offline for no longer than its grace: still a member of its topics."""
    return record.online or now - offline_since(record) <= grace.of(record)


def expired(record: OwnerRecord, now: float, grace: Grace) -> bool:
    return not visible(record, now, grace)


def _union(first: Iterable[str], second: Iterable[str]) -> list[str]:
    return list(dict.fromkeys([*first, *second]))


def held_by(old: OwnerRecord | None, claim: Claim) -> bool:
    """The record is online and names the claiming connection itself: this claim
    repeats one that landed (the gateway retries a claim whose reply was lost)."""
    return old is not None and old.online and (old.node, old.conn) == (claim.node, claim.conn)


def superseded(old: OwnerRecord | None, claim: Claim) -> bool:
    """A ``fresh`` claim of a session claimed already: that claim came from a newer
    hello (a resume elsewhere after this one's welcome), which keeps the session.
    Its own earlier attempt does not count."""
    return claim.fresh and old is not None and not held_by(old, claim)


def repeated(old: OwnerRecord | None, claim: Claim) -> bool:
    """A retried claim that would change nothing: answered with the record's epoch.

    Without this a retry would take a new epoch, and if the first attempt was
    only slow (a paused replica) and landed after the retry, the connection
    would hold the older epoch and be fenced by its own claim.
    """
    return held_by(old, claim) and old is not None and set(claim.topics) <= set(old.topics)


def claimed(old: OwnerRecord | None, claim: Claim, now: float, grace: Grace) -> OwnerRecord:
    """The record after ``claim``: a new epoch, and the topics of a session still visible.

    Keeping the topics of an offline-in-grace record is what makes a reconnect
    within the grace, on any node, emit neither leave nor join.
    """
    kept = old.topics if old is not None and visible(old, now, grace) else []
    return OwnerRecord(
        node=claim.node,
        conn=claim.conn,
        epoch=old.epoch + 1 if old is not None else 1,
        online=True,
        last_seen=now,
        user=claim.user,
        topics=_union(kept, claim.topics),
        offline_since=None,
    )


def takeover_of(session: str, old: OwnerRecord | None, new: OwnerRecord) -> Takeover | None:
    """The command for the connection ``new`` replaces, if one is still online elsewhere."""
    if old is None or not old.online or (old.node, old.conn) == (new.node, new.conn):
        return None
    return Takeover(session=session, conn=old.conn, epoch=new.epoch)


def after_event(old: OwnerRecord | None, event: Event, now: float) -> OwnerRecord | None:
    """The record after ``event``, or None when nothing changes; ``StaleEvent`` if fenced.

    An event on an offline record (closed, or its node declared dead) changes
    topics but never brings it back online: only a claim or the owning node's
    post-pause heartbeat does, so a late event cannot resurrect a closed session.
    """
    if old is None or old.epoch != event.epoch or old.conn != event.conn:
        raise StaleEvent(f"{event.session}: epoch {event.epoch} conn {event.conn} lost it")
    if event.kind == "sub" and event.topic is not None:
        if event.topic in old.topics:
            return None
        return dataclasses.replace(old, topics=[*old.topics, event.topic])
    if event.kind == "unsub" and event.topic is not None:
        if event.topic not in old.topics:
            return None
        return dataclasses.replace(old, topics=[t for t in old.topics if t != event.topic])
    if event.kind == "close":
        return gone_offline(old, now, event.reason or "close")
    return None


def gone_offline(old: OwnerRecord, now: float, reason: str) -> OwnerRecord | None:
    if not old.online:
        return None
    return dataclasses.replace(old, online=False, offline_since=now, reason=reason)


def revived(old: OwnerRecord, now: float) -> OwnerRecord | None:
    if old.online:
        return None
    return dataclasses.replace(old, online=True, last_seen=now, offline_since=None, reason=None)
