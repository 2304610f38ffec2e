"""Per-topic cursors: what resume asks for, and the duplicate and gap checks.

The cursor of a topic is the seq of the last message accepted from the wire (or
the ``since`` / ``ok.seq`` a subscription started from). Because the gateway
chains every ``msg`` to the previous one with ``prev``, the client checks for
itself that it missed nothing: a ``prev`` other than the cursor is a gap, a seq at
or below it is a duplicate (dropped). Gaps are reported, never hidden, and the
message is delivered anyway: losing it too would make things worse.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

GapCallback = Callable[[str, int, int], None]
"""``on_gap(topic, expected_prev, got_prev)``: messages of ``topic`` with
``expected_prev < seq <= got_prev`` were not delivered."""


class Verdict(enum.Enum):
    DELIVER = "deliver"
    DUPLICATE = "duplicate"
    UNKNOWN = "unknown"
    """Not subscribed (any more): a late message after an unsubscribe."""


@dataclass(slots=True)
class TopicCursor:
    cursor: int | None
    """Last seq accepted; ``None`` until the ``ok`` of a live-only subscription."""
    presence: bool = False
    confirmed: bool = False
    """The gateway acknowledged the subscription (``ok``) at least once."""


class Cursors:
    def __init__(self, on_gap: GapCallback | None = None) -> None:
        self._topics: dict[str, TopicCursor] = {}
        self._on_gap = on_gap
        self.duplicates = 0
        self.gaps = 0

    def __contains__(self, topic: object) -> bool:
        return topic in self._topics

    def __len__(self) -> int:
        return len(self._topics)

    def get(self, topic: str) -> TopicCursor | None:
        return self._topics.get(topic)

    def items(self) -> list[tuple[str, TopicCursor]]:
        return list(self._topics.items())

    def add(self, topic: str, *, since: int | None, presence: bool) -> TopicCursor:
        """Track a new subscription; with ``since`` the cursor starts there."""
        state = TopicCursor(since, presence)
        self._topics[topic] = state
        return state

    def remove(self, topic: str) -> bool:
        return self._topics.pop(topic, None) is not None

    def confirm(self, topic: str, seq: int) -> None:
        """The ``ok`` of a subscription: a live-only one starts at the topic's last
        seq, so a resume asks for everything published after the subscription."""
        state = self._topics.get(topic)
        if state is None:
            return
        if state.cursor is None:
            state.cursor = seq
        state.confirmed = True

    def check(self, topic: str, seq: int) -> Verdict:
        """Whether a ``msg`` is new; a duplicate is counted here and must be dropped."""
        state = self._topics.get(topic)
        if state is None:
            return Verdict.UNKNOWN
        if state.cursor is not None and seq <= state.cursor:
            self.duplicates += 1
            return Verdict.DUPLICATE
        return Verdict.DELIVER

    def advance(self, topic: str, seq: int, prev: int) -> None:
        """A checked message was handed over: move the cursor, report a ``prev`` break.

        Separate from ``check`` so a connection lost while the application's
        queue is full never counts a message that was not handed over.
        """
        state = self._topics.get(topic)
        if state is None:
            return
        if state.cursor is not None and prev != state.cursor:
            self._gap(topic, state.cursor, prev)
        state.cursor = seq

    def lost(self, topic: str, first: int, last: int) -> None:
        """``recovered`` with ``complete: false``: retention no longer held ``first..last``."""
        if topic in self._topics:
            self._gap(topic, first - 1, last)

    def resumable(self) -> dict[str, int]:
        """The ``hello`` cursors: every confirmed subscription with a known position.

        Presence subscriptions are left out: a restore by cursor does not carry the
        presence flag, so the client subscribes them again (``since`` its cursor).
        """
        return {
            topic: state.cursor
            for topic, state in self._topics.items()
            if state.confirmed and state.cursor is not None and not state.presence
        }

    def _gap(self, topic: str, expected_prev: int, got_prev: int) -> None:
        self.gaps += 1
        if self._on_gap is not None:
            self._on_gap(topic, expected_prev, got_prev)
