"""What a topic's presence change becomes on the wire, and which re-sends to drop.

A new presence leader re-sends what its predecessor may not have published,
with the same revision, so a (topic, session) change at a revision already
delivered is dropped. Counts-only mode (haws) adds ``counts``: the topic's
totals, replacing per-member ``join``/``leave``; an older one than what was
delivered (a re-send, or an old leader's overlapping its successor) is dropped.
"""

from __future__ import annotations

from typing import Any

from haws.common import presence_protocol as pp


class PresenceRelay:
    def __init__(self, topic: str) -> None:
        self._topic = topic
        self._seen: dict[str, int] = {}
        """Per session, the KV revision of the last change delivered."""
        self._counts_seen = 0
        """The revision of the last ``counts``/``members`` delivered."""

    def frame(self, change: pp.Change) -> dict[str, Any] | None:
        """The client frame for ``change``; None for a re-send already delivered."""
        if change.kind in ("counts", "members"):
            return self._counts(change)
        if change.revision:
            if self._seen.get(change.session, 0) >= change.revision:
                return None
            self._seen[change.session] = change.revision
        who: dict[str, str] = {"session": change.session}
        if change.user:
            who["user"] = change.user
        return {"op": change.kind, "topic": self._topic, "who": who}

    def _counts(self, change: pp.Change) -> dict[str, Any] | None:
        if change.revision < self._counts_seen:
            return None
        self._counts_seen = change.revision
        frame: dict[str, Any] = {
            "op": "counts",
            "topic": self._topic,
            "count": change.count,
            "users": change.users,
        }
        if change.kind == "members":
            # Back to per-member mode: the whole list, to rebuild from.
            frame["mode"] = "members"
            frame["members"] = [
                {k: v for k, v in m.items() if v is not None} for m in change.members
            ]
        else:
            frame["mode"] = "counts"
        return frame
