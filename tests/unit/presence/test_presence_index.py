"""The index diff: which (topic, session) pairs appear (join) and disappear (leave)."""

from __future__ import annotations

import dataclasses
from typing import Any

from haws.common.presence_protocol import Change, Member, OwnerRecord
from haws.presence.index import PresenceIndex
from haws.presence.transitions import Grace


def record(*topics: str, online: bool = True, node: str = "g1", **kw: Any) -> OwnerRecord:
    base = OwnerRecord(
        node=node,
        conn="c1",
        epoch=1,
        online=online,
        last_seen=100.0,
        user="u",
        topics=list(topics),
        offline_since=None if online else 100.0,
    )
    return dataclasses.replace(base, **kw)


def kinds(changes: list[Change]) -> list[tuple[str, str]]:
    return [(c.kind, c.topic) for c in changes]


def test_first_topics_join_and_carry_the_revision() -> None:
    index = PresenceIndex()
    changes = index.apply("s1", record("a", "b"), 5)
    assert kinds(changes) == [("join", "a"), ("join", "b")]
    assert {c.revision for c in changes} == {5}
    assert changes[0].user == "u"
    assert index.memberships == 2


def test_removed_topic_leaves_and_added_joins() -> None:
    index = PresenceIndex()
    index.apply("s1", record("a", "b"), 1)
    assert kinds(index.apply("s1", record("b", "c"), 2)) == [("leave", "a"), ("join", "c")]


def test_offline_record_keeps_its_topics_so_no_leave() -> None:
    index = PresenceIndex()
    index.apply("s1", record("a"), 1)
    assert index.apply("s1", record("a", online=False), 2) == []
    # A reconnect on another node within the grace keeps the topics: nothing either.
    assert index.apply("s1", record("a", node="g2", epoch=2), 3) == []


def test_delete_leaves_every_topic() -> None:
    index = PresenceIndex()
    index.apply("s1", record("a", "b"), 1)
    changes = index.apply("s1", None, 2)
    assert kinds(changes) == [("leave", "a"), ("leave", "b")]
    assert index.memberships == 0
    assert index.get("s1") is None


def test_replayed_or_older_revision_changes_nothing() -> None:
    index = PresenceIndex()
    index.apply("s1", record("a"), 7)
    assert index.apply("s1", record("a"), 7) == []
    assert index.apply("s1", record(), 6) == []
    entry = index.get("s1")
    assert entry is not None
    assert entry.revision == 7
    # A delete found by absence (no revision) always applies.
    assert kinds(index.apply("s1", None, None)) == [("leave", "a")]


def test_members_hide_records_past_the_grace() -> None:
    index = PresenceIndex()
    index.apply("on", record("t"), 1)
    index.apply("recent", record("t", online=False, offline_since=99.0, node="g2"), 2)
    index.apply("old", record("t", online=False, offline_since=90.0), 3)
    members = index.members("t", now=100.0, grace=Grace.uniform(5.0))
    assert members == [Member("on", "g1", "u"), Member("recent", "g2", "u")]
    assert index.members("nobody", now=100.0, grace=Grace.uniform(5.0)) == []


def test_node_and_state_views_follow_updates() -> None:
    index = PresenceIndex()
    index.apply("s1", record("t"), 1)
    index.apply("s2", record("t", node="g2"), 2)
    assert sorted(index.online_nodes()) == ["g1", "g2"]
    offline = dataclasses.replace(record("t"), online=False, offline_since=100.0)
    index.apply("s1", offline, 3)
    assert index.online_nodes() == ["g2"]
    assert [s for s, _ in index.offline_entries()] == ["s1"]
    assert (index.online_count, index.offline_count) == (1, 1)


def test_only_the_topics_that_differ_change_and_duplicates_count_once() -> None:
    index = PresenceIndex()
    index.apply("s1", record("a", "b", "b"), 1)
    assert index.memberships == 2
    assert kinds(index.apply("s1", record("b", "a"), 2)) == []  # same set, other order
    assert kinds(index.apply("s1", record("a", "b", "c"), 3)) == [("join", "c")]
    assert index.memberships == 3
    assert [m.session for m in index.members("c", now=100.0, grace=Grace.uniform(5.0))] == ["s1"]
    assert kinds(index.apply("s1", record("c"), 4)) == [("leave", "a"), ("leave", "b")]
    assert (index.size("a"), index.size("b"), index.size("c")) == (0, 0, 1)
    assert index.topics() == ["c"]


def test_a_new_user_on_the_same_topics_moves_the_kept_user_counts() -> None:
    """No join or leave (the memberships are the same), but a topic whose users are
    counted must count the new user, not the old."""
    index = PresenceIndex()
    index.apply("s1", record("a", "b"), 1)
    index.apply("s2", record("a"), 2)
    index.count_users("a", True)
    assert index.users("a") == 1
    changes = index.apply("s1", record("a", "b", user="v"), 3)
    assert kinds(changes) == []
    assert index.users("a") == 2
    assert index.users("b") == 1
    index.apply("s1", record("b", user="v"), 4)
    assert index.users("a") == 1
    index.apply("s2", None, 5)
    assert index.users("a") == 0
    assert index.memberships == 1
