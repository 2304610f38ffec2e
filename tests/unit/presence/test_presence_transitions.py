"""Claim and event rules: epochs, fencing, and the topics a reconnect keeps."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from haws.common.presence_protocol import Claim, Event, OwnerRecord, Takeover
from haws.presence import transitions
from haws.presence.transitions import Grace, StaleEvent

GRACE = Grace.uniform(5.0)


def owner(**kw: Any) -> OwnerRecord:
    base = OwnerRecord(node="g1", conn="c1", epoch=3, online=True, last_seen=100.0, topics=["a"])
    return dataclasses.replace(base, **kw)


def test_first_claim_is_epoch_one_with_its_topics() -> None:
    new = transitions.claimed(None, Claim("s", "g1", "c1", "u", ["x"]), 100.0, GRACE)
    assert (new.epoch, new.node, new.conn, new.user, new.online) == (1, "g1", "c1", "u", True)
    assert new.topics == ["x"]
    assert new.last_seen == 100.0
    assert new.offline_since is None


def test_claim_keeps_topics_of_an_online_or_in_grace_record() -> None:
    claim = Claim("s", "g2", "c2", topics=["a", "b"])
    online = transitions.claimed(owner(), claim, 100.0, GRACE)
    assert (online.epoch, online.topics) == (4, ["a", "b"])
    in_grace = owner(online=False, offline_since=97.0)
    assert transitions.claimed(in_grace, claim, 100.0, GRACE).topics == ["a", "b"]


def test_claim_after_the_grace_starts_from_its_own_topics() -> None:
    expired = owner(online=False, offline_since=90.0, topics=["old"])
    new = transitions.claimed(expired, Claim("s", "g2", "c2", topics=["b"]), 100.0, GRACE)
    assert (new.epoch, new.topics) == (4, ["b"])


def test_takeover_only_of_an_online_other_connection() -> None:
    new = transitions.claimed(owner(), Claim("s", "g2", "c2"), 100.0, GRACE)
    assert transitions.takeover_of("s", owner(), new) == Takeover("s", "c1", 4)
    same = transitions.claimed(owner(), Claim("s", "g1", "c1"), 100.0, GRACE)
    assert transitions.takeover_of("s", owner(), same) is None
    offline = owner(online=False, offline_since=99.0)
    assert transitions.takeover_of("s", offline, new) is None
    assert transitions.takeover_of("s", None, new) is None


@pytest.mark.parametrize(
    "event",
    [
        Event("sub", "s", "g1", "c1", 2, "b"),  # older epoch
        Event("sub", "s", "g1", "c9", 3, "b"),  # another connection
        Event("close", "s", "g1", "c1", 4),  # newer than the record: not its owner either
    ],
)
def test_events_of_a_fenced_connection_are_stale(event: Event) -> None:
    with pytest.raises(StaleEvent):
        transitions.after_event(owner(), event, 100.0)


def test_events_of_an_unknown_session_are_stale() -> None:
    with pytest.raises(StaleEvent):
        transitions.after_event(None, Event("sub", "s", "g1", "c1", 1, "a"), 100.0)


def test_sub_unsub_close() -> None:
    rec = owner()
    sub = transitions.after_event(rec, Event("sub", "s", "g1", "c1", 3, "b"), 100.0)
    assert sub is not None
    assert sub.topics == ["a", "b"]
    assert transitions.after_event(rec, Event("sub", "s", "g1", "c1", 3, "a"), 100.0) is None
    unsub = transitions.after_event(rec, Event("unsub", "s", "g1", "c1", 3, "a"), 100.0)
    assert unsub is not None
    assert unsub.topics == []
    assert transitions.after_event(rec, Event("unsub", "s", "g1", "c1", 3, "z"), 100.0) is None
    closed = transitions.after_event(rec, Event("close", "s", "g1", "c1", 3), 101.0)
    assert closed is not None
    assert (closed.online, closed.offline_since) == (False, 101.0)
    assert closed.topics == ["a"]  # kept until the grace is over
    assert transitions.after_event(closed, Event("close", "s", "g1", "c1", 3), 102.0) is None


def test_events_never_bring_a_record_back_online() -> None:
    closed = owner(online=False, offline_since=99.0)
    late = transitions.after_event(closed, Event("sub", "s", "g1", "c1", 3, "b"), 100.0)
    assert late is not None
    assert not late.online


def test_visible_and_revived() -> None:
    gone = owner(online=False, offline_since=94.0)
    assert transitions.visible(gone, 99.0, GRACE)
    assert transitions.expired(gone, 99.5, GRACE)
    back = transitions.revived(gone, 100.0)
    assert back is not None
    assert back.online
    assert back.offline_since is None
    assert transitions.revived(owner(), 100.0) is None


def test_a_claim_repeated_by_its_own_connection_changes_nothing() -> None:
    """A gateway's retry after a lost reply: not superseded (even if fresh), and
    answered with the record's epoch as long as it adds no topic."""
    record = OwnerRecord("n1", "c1", 3, True, 1.0, topics=["a"])
    retry = Claim("s", "n1", "c1", fresh=True)
    assert transitions.held_by(record, retry)
    assert not transitions.superseded(record, retry)
    assert transitions.repeated(record, retry)
    assert not transitions.repeated(record, Claim("s", "n1", "c1", topics=["b"]))
    other = Claim("s", "n1", "c2", fresh=True)  # another connection: a newer hello won
    assert transitions.superseded(record, other)
    assert not transitions.repeated(record, other)
    offline = OwnerRecord("n1", "c1", 3, False, 1.0, offline_since=2.0)
    assert not transitions.repeated(offline, Claim("s", "n1", "c1"))  # closed: claim anew


def test_a_dead_node_s_session_stays_a_member_for_the_longer_grace() -> None:
    grace = Grace(closed=5.0, node_dead=15.0)
    dead = transitions.gone_offline(owner(), 100.0, transitions.NODE_DEAD)
    closed = transitions.gone_offline(owner(), 100.0, "client_closed")
    assert dead is not None
    assert closed is not None
    assert transitions.visible(dead, 114.0, grace)
    assert transitions.expired(closed, 106.0, grace)
    assert transitions.expired(dead, 115.5, grace)
    # A resume 14 s after its node was declared dead keeps the topics: no leave, no join.
    back = transitions.claimed(dead, Claim("s", "g2", "c2"), 114.0, grace)
    assert back.topics == dead.topics
    assert transitions.claimed(closed, Claim("s", "g2", "c2"), 114.0, grace).topics == []
