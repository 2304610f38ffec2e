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
from typing import NamedTuple

from haws.common.presence_protocol import Change, Member, OwnerRecord
from haws.presence.transitions import Grace, visible


class Entry(NamedTuple):
    """A tuple, not a frozen dataclass: one is made per applied update, and a frozen
    dataclass's ``__init__`` costs a ``object.__setattr__`` per field."""

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
        Only the topics that differ are touched: most updates (a claim again, an
        event on one topic, going offline) leave most or all of them as they were.
        """
        old = self._entries.get(session)
        rev = revision or 0
        if old is None:
            if record is None:
                return []
            before: list[str] = []
            old_user = None
        else:
            if revision is not None and revision <= old.revision:
                return []
            self._unlink_state(session, old.record)
            before = old.record.topics
            old_user = old.record.user
        if record is not None:
            self._entries[session] = Entry(record, rev)
            self._link_state(session, record)
            after = record.topics
            user = record.user
        else:
            del self._entries[session]
            after = []
            user = old_user
        if before == after and user == old_user:
            return []  # the same memberships: nothing to link, nothing changed
        if user != old_user:
            # Every kept user count of every topic moves: unlink all, link all.
            self._unlink_topics(session, set(before), old_user)
            self._link_topics(session, set(after), user)
            left = set(before).difference(after)
            joined = set(after).difference(before)
        else:
            left = set(before).difference(after)
            joined = set(after).difference(before)
            self._unlink_topics(session, left, user)
            self._link_topics(session, joined, user)
        changes = [Change("leave", topic, session, old_user, rev) for topic in sorted(left)]
        if joined:
            changes += [Change("join", topic, session, user, rev) for topic in sorted(joined)]
        return changes

    def _link_topics(self, session: str, topics: set[str], user: str | None) -> None:
        for topic in topics:
            members = self._topics.get(topic)
            if members is None:
                self._topics[topic] = {session}
            else:
                members.add(session)
            self.memberships += 1
            if user is not None and (users := self._users.get(topic)) is not None:
                users[user] += 1

    def _unlink_topics(self, session: str, topics: set[str], user: str | None) -> None:
        for topic in topics:
            members = self._topics.get(topic)
            if members is not None:
                members.discard(session)
                self.memberships -= 1
                if not members:
                    del self._topics[topic]
            if user is not None and (users := self._users.get(topic)) is not None:
                users[user] -= 1
                if users[user] <= 0:
                    del users[user]

    def _link_state(self, session: str, record: OwnerRecord) -> None:
        if record.online:
            sessions = self._online.get(record.node)
            if sessions is None:
                self._online[record.node] = {session}
            else:
                sessions.add(session)
        else:
            self._offline.add(session)

    def _unlink_state(self, session: str, old: OwnerRecord) -> None:
        if old.online:
            sessions = self._online.get(old.node)
            if sessions is not None:
                sessions.discard(session)
                if not sessions:
                    del self._online[old.node]
        else:
            self._offline.discard(session)

    def members(self, topic: str, now: float, grace: Grace) -> list[Member]:
        """Who is on ``topic``: online, or offline within the grace (not yet expired)."""
        found = []
        for session in sorted(self._topics.get(topic, ())):
            record = self._entries[session].record
            if visible(record, now, grace):
                found.append(Member(session=session, node=record.node, user=record.user))
        return found

    def sample(self, topic: str, now: float, grace: Grace, limit: int) -> list[Member]:
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
