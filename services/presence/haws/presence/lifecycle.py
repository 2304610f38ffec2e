"""The lifecycle events one ownership-record update means: a pure function of old and new.

Every replica applies the same KV revisions in the same order (see ``feed``), so
every replica computes the same events with the same ids; only the leader
stores them (see ``event_relay``). Within one update the events of the older
epoch come first (its leaves, its takeover), then the newer epoch's.
"""

from __future__ import annotations

from haws.common.presence_protocol import OwnerRecord
from haws.protocol.lifecycle import REASONS, EventType, LifecycleEvent, Reason


class _Builder:
    def __init__(self, session: str, revision: int, ts: int) -> None:
        self._session = session
        self._revision = revision
        self._ts = ts
        self.events: list[LifecycleEvent] = []

    def add(
        self,
        kind: EventType,
        record: OwnerRecord,
        *,
        reason: Reason | None = None,
        topic: str | None = None,
        previous_node: str | None = None,
    ) -> None:
        self.events.append(
            LifecycleEvent(
                id=f"{self._session}:{self._revision}:{len(self.events)}",
                type=kind,
                session=self._session,
                user=record.user,
                node=record.node,
                conn=record.conn,
                epoch=record.epoch,
                ts=self._ts,
                reason=reason,
                topic=topic,
                previous_node=previous_node,
            )
        )

    def topics(self, kind: EventType, record: OwnerRecord, topics: set[str]) -> None:
        for topic in sorted(topics):
            self.add(kind, record, topic=topic)


def _reason(record: OwnerRecord) -> Reason:
    reason = record.reason
    for candidate in REASONS:
        if reason == candidate:
            return candidate
    return "close"


def lifecycle_events(
    session: str, old: OwnerRecord | None, new: OwnerRecord | None, revision: int, ts: int
) -> list[LifecycleEvent]:
    """The events of ``session``'s record going from ``old`` to ``new`` at ``revision``."""
    out = _Builder(session, revision, ts)
    before = set(old.topics) if old is not None else set()
    after = set(new.topics) if new is not None else set()
    if new is None:
        if old is None:
            return []
        out.topics("leave", old, before)
        if old.online:  # deleted while online: nothing else will ever say it went
            out.add("disconnect", old, reason="expired")
        return out.events
    if old is None or old.epoch != new.epoch:  # a claim
        if old is not None:
            out.topics("leave", old, before - after)
            if old.online:
                out.add("disconnect", old, reason="takeover")
        kind: EventType = "connect" if old is None else "resume"
        out.add(kind, new, previous_node=old.node if old is not None else None)
        out.topics("join", new, after - before)
        return out.events
    out.topics("leave", new, before - after)
    out.topics("join", new, after - before)
    if old.online and not new.online:
        out.add("disconnect", new, reason=_reason(new))
    elif not old.online and new.online:  # its node came back from a pause
        out.add("resume", new, previous_node=new.node)
    return out.events
