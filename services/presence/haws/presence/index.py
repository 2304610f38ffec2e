"""The in-memory mirror of the ownership records, and the join/leave it implies.

Every replica applies the KV watch here, in revision order, and answers
queries from it. A (topic, session) pair is a membership exactly while the
session's record lists the topic; applying a record therefore yields the
pairs that appeared (join) and disappeared (leave). Because every replica sees
the same revisions, every replica computes the same changes; only the leader
publishes them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from haws.common.presence_protocol import Change, Member, OwnerRecord
from haws.presence.transitions import visible


@dataclass(frozen=True, slots=True)
class Entry:
    record: OwnerRecord
    revision: int


class PresenceIndex:
    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}
        self._topics: dict[str, set[str]] = {}
        self._users: dict[str, Counter[str]] = {}
        """Topic -> user id -> its member sessions, kept only for the topics asked
        (large ones): on every topic it would cost each claim a quarter more."""
        self._online: dict[str, set[str]] = {}  # node -> its online sessions
        self._offline: set[str] = set()
        self.memberships = 0

    def get(self, session: str) -> Entry | None:
        return self._entries.get(session)

    def sessions(self) -> set[str]:
        return set(self._entries)

    def apply(self, session: str, record: OwnerRecord | None, revision: int | None) -> list[Change]:
        """Set ``session``'s record (None: deleted); the memberships it adds and removes.

        An update at or below the revision already held is a replay and changes
        nothing (``revision`` None, for a delete whose marker is gone, always applies).
        """
        old = self._entries.get(session)
        if old is not None and revision is not None and revision <= old.revision:
            return []
        if old is None and record is None:
            return []
        self._unlink(session, old)
        if record is not None:
            self._entries[session] = Entry(record, revision or 0)
            self._link(session, record)
        else:
            del self._entries[session]
        before = set(old.record.topics) if old is not None else set()
        after = set(record.topics) if record is not None else set()
        rev = revision or 0
        changes = [
            Change("leave", topic, session, old.record.user if old else None, rev)
            for topic in sorted(before - after)
        ]
        changes += [
            Change("join", topic, session, record.user if record else None, rev)
            for topic in sorted(after - before)
        ]
        return changes

    def _link(self, session: str, record: OwnerRecord) -> None:
        for topic in set(record.topics):
            self._topics.setdefault(topic, set()).add(session)
            self.memberships += 1
            if record.user is not None and (users := self._users.get(topic)) is not None:
                users[record.user] += 1
        if record.online:
            self._online.setdefault(record.node, set()).add(session)
        else:
            self._offline.add(session)

    def _unlink(self, session: str, old: Entry | None) -> None:
        if old is None:
            return
        for topic in set(old.record.topics):
            members = self._topics.get(topic)
            if members is not None:
                members.discard(session)
                self.memberships -= 1
                if not members:
                    del self._topics[topic]
            if old.record.user is not None and (users := self._users.get(topic)) is not None:
                users[old.record.user] -= 1
                if users[old.record.user] <= 0:
                    del users[old.record.user]
        if old.record.online:
            sessions = self._online.get(old.record.node)
            if sessions is not None:
                sessions.discard(session)
                if not sessions:
                    del self._online[old.record.node]
        else:
            self._offline.discard(session)

    def members(self, topic: str, now: float, grace: float) -> list[Member]:
        """Who is on ``topic``: online, or offline within the grace (not yet expired)."""
        found = []
        for session in sorted(self._topics.get(topic, ())):
            record = self._entries[session].record
            if visible(record, now, grace):
                found.append(Member(session=session, node=record.node, user=record.user))
        return found

    def sample(self, topic: str, now: float, grace: float, limit: int) -> list[Member]:
        """At most ``limit`` visible members of ``topic``, without listing them all
        (a large topic's query must not cost its size)."""
        found: list[Member] = []
        for session in self._topics.get(topic, ()):
            if len(found) >= limit:
                break
            record = self._entries[session].record
            if visible(record, now, grace):
                found.append(Member(session=session, node=record.node, user=record.user))
        return found

    def size(self, topic: str) -> int:
        """Member sessions of ``topic`` (offline ones within the grace included)."""
        return len(self._topics.get(topic, ()))

    def count_users(self, topic: str, counting: bool) -> None:
        """Start (from the current members) or stop keeping ``topic``'s distinct users."""
        if not counting:
            self._users.pop(topic, None)
            return
        users: Counter[str] = Counter()
        for session in self._topics.get(topic, ()):
            if (user := self._entries[session].record.user) is not None:
                users[user] += 1
        self._users[topic] = users

    def users(self, topic: str) -> int:
        """Distinct user ids among the members of ``topic`` (a walk unless kept)."""
        users = self._users.get(topic)
        if users is not None:
            return len(users)
        members = self._topics.get(topic, ())
        return len({u for s in members if (u := self._entries[s].record.user) is not None})

    def topics(self) -> list[str]:
        return list(self._topics)

    def online_nodes(self) -> list[str]:
        return list(self._online)

    def online_sessions(self, node: str) -> list[str]:
        return sorted(self._online.get(node, ()))

    def offline_entries(self) -> list[tuple[str, Entry]]:
        return [(s, self._entries[s]) for s in self._offline]

    @property
    def online_count(self) -> int:
        return sum(len(s) for s in self._online.values())

    @property
    def offline_count(self) -> int:
        return len(self._offline)
