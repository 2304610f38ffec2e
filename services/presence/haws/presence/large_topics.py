"""Counts-only mode for large topics: which topics are in it, and what their changes become.

A topic with ``counts_from`` members or more stops sending per-member
join/leave: every subscriber of a topic with N members would otherwise receive
N joins and leaves, O(N^2) frames for the topic as a whole. Instead the leader
sends the member and user counts, at most once per ``interval`` while they
change. The topic goes back to per-member mode only below a lower mark (90 %
of the threshold), so one hovering at the threshold does not flip with every
join; going back sends the whole member list, so clients can rebuild theirs.

Every replica applies the same revisions in the same order, so every replica
computes the same modes (a new leader knows them already); only the leader
publishes. The mode switches themselves are ordinary changes, logged and
re-sent by a new leader like join/leave.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from haws.common.presence_protocol import Change, Member
from haws.presence.index import PresenceIndex
from haws.presence.transitions import Grace

BACK_TO_MEMBERS = 0.9
"""Fraction of the threshold below which a topic returns to per-member mode."""


@dataclass(frozen=True, slots=True)
class CountsLimits:
    counts_from: int = 1000
    """Members from which a topic is counts-only (0: never)."""
    interval: float = 1.0
    """Seconds between two coalesced counts of one topic."""
    sample: int = 100
    """Members a query on a counts-only topic answers at most."""

    @property
    def back_below(self) -> int:
        """Below this many members a counts-only topic goes back to per-member mode."""
        return max(1, int(self.counts_from * BACK_TO_MEMBERS))


class LargeTopics:
    def __init__(
        self,
        index: PresenceIndex,
        limits: CountsLimits,
        *,
        grace: Grace,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._index = index
        self.limits = limits
        self._grace = grace
        self._clock = clock
        self._counting: set[str] = set()
        self._dirty: set[str] = set()
        """Counts-only topics whose counts changed since they were last sent."""

    @property
    def enabled(self) -> bool:
        return self.limits.counts_from > 0

    def counting(self, topic: str) -> bool:
        return topic in self._counting

    @property
    def counting_topics(self) -> int:
        return len(self._counting)

    def settle(self) -> None:
        """After a silent initial load: the modes the index implies, nothing sent."""
        if self.enabled:
            counting = {
                t for t in self._index.topics() if self._index.size(t) >= self.limits.counts_from
            }
            for topic in self._counting - counting:
                self._index.count_users(topic, False)
            for topic in counting - self._counting:
                self._index.count_users(topic, True)
            self._counting = counting
            self._dirty &= self._counting

    def sort(self, changes: list[Change], revision: int) -> list[Change]:
        """What to publish for one applied update (the index already holds it).

        Join/leave of per-member topics pass; those of counts-only topics only
        mark the topic for the next coalesced counts. A topic crossing the
        threshold yields one ``counts`` at once (subscribers learn the mode
        now), one dropping below the lower mark a ``members`` snapshot.
        """
        if not self.enabled or not changes:
            return changes
        entered: list[str] = []
        left: list[str] = []
        for topic in dict.fromkeys(c.topic for c in changes):
            size = self._index.size(topic)
            if topic in self._counting:
                if size < self.limits.back_below:
                    self._counting.discard(topic)
                    self._dirty.discard(topic)
                    left.append(topic)
                else:
                    self._dirty.add(topic)
            elif size >= self.limits.counts_from:
                self._counting.add(topic)
                self._index.count_users(topic, True)
                entered.append(topic)
        switched = set(entered) | set(left)
        kept = [c for c in changes if c.topic not in self._counting and c.topic not in switched]
        kept += [self.counts(topic, revision) for topic in entered]
        for topic in left:
            kept.append(self.snapshot(topic, revision))
            self._index.count_users(topic, False)
        return kept

    def counts(self, topic: str, revision: int) -> Change:
        return Change(
            "counts",
            topic,
            "",
            revision=revision,
            count=self._index.size(topic),
            users=self._index.users(topic),
        )

    def snapshot(self, topic: str, revision: int) -> Change:
        members = self._index.members(topic, self._clock(), self._grace)
        return Change(
            "members",
            topic,
            "",
            revision=revision,
            count=self._index.size(topic),
            users=self._index.users(topic),
            members=[asdict(m) for m in members],
        )

    def due(self, revision: int, led: Callable[[str], bool] | None = None) -> list[Change]:
        """The coalesced counts of every topic that changed since the last call (of the
        topics ``led`` says this replica sends; the others stay marked)."""
        if led is None:
            dirty, self._dirty = self._dirty, set()
        else:
            dirty = {topic for topic in self._dirty if led(topic)}
            self._dirty -= dirty
        return [self.counts(topic, revision) for topic in sorted(dirty) if topic in self._counting]

    def mark_all(self) -> None:
        """A new leader: send every counts-only topic's counts (its predecessor's may be lost)."""
        self._dirty |= self._counting

    def sample(self, topic: str) -> list[Member]:
        return self._index.sample(topic, self._clock(), self._grace, self.limits.sample)
