"""The presence tracker's ordering rules, with snapshots and changes fed directly:
changes that race a snapshot are applied on top of it in arrival order, a resume
re-reads it (so nobody who left while we were away stays), counts-only topics
keep totals and a sample, and a failed snapshot keeps the list and is asked again."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from haws.client.presence_tracker import PresenceTracker
from haws.client.types import ClientClosed, PresenceAnswer, PresenceCounts, PresenceMember
from haws.protocol.errors import Unavailable
from tests.support.waiting import eventually


def m(session: str, user: str | None = None) -> PresenceMember:
    return PresenceMember(session, user)


def answer(*sessions: str, count: int | None = None, users: int = 0) -> PresenceAnswer:
    members = tuple(PresenceMember(s, None, "n1") for s in sessions)
    if count is None:
        return PresenceAnswer("room", members)
    return PresenceAnswer("room", members, count=count, users=users, sample=True)


@dataclass
class Snapshots:
    """A ``presence`` query whose answers the test gives, one per request, when it likes."""

    asked: list[asyncio.Future[PresenceAnswer]] = field(default_factory=list)

    async def __call__(self, topic: str) -> PresenceAnswer:
        future: asyncio.Future[PresenceAnswer] = asyncio.get_running_loop().create_future()
        self.asked.append(future)
        return await future

    async def next_request(self, count: int) -> asyncio.Future[PresenceAnswer]:
        """The ``count``-th request (from 1), once the tracker made it."""
        await eventually(lambda: len(self.asked) >= count, timeout=5, message="a snapshot request")
        return self.asked[count - 1]


@dataclass
class Seen:
    events: list[tuple[str, str]] = field(default_factory=list)
    counts: list[PresenceCounts] = field(default_factory=list)
    changes: int = 0


def tracker_with(snapshots: Snapshots) -> tuple[PresenceTracker, Seen]:
    seen = Seen()

    def changed(_: tuple[PresenceMember, ...]) -> None:
        seen.changes += 1

    tracker = PresenceTracker(
        "room",
        snapshots,
        on_join=lambda who: seen.events.append(("join", who.session)),
        on_leave=lambda who: seen.events.append(("leave", who.session)),
        on_counts=seen.counts.append,
        on_change=changed,
    )
    return tracker, seen


async def test_changes_racing_the_snapshot_are_applied_on_top_of_it_in_order() -> None:
    snapshots = Snapshots()
    tracker, seen = tracker_with(snapshots)
    tracker.refresh()
    request = await snapshots.next_request(1)
    # While the snapshot is on its way: b (already in it) joins again, c joins
    # after it was taken, a (in it) leaves after it was taken, d comes and goes.
    tracker.joined(m("b"))
    tracker.joined(m("c"))
    tracker.left(m("a"))
    tracker.joined(m("d"))
    tracker.left(m("d"))
    assert len(tracker) == 0
    assert not tracker.synced
    request.set_result(answer("a", "b"))
    await tracker.wait_synced(timeout=5)

    assert tracker.sessions == {"b", "c"}
    assert seen.events == [
        ("join", "a"),
        ("join", "b"),
        ("join", "c"),
        ("leave", "a"),
        ("join", "d"),
        ("leave", "d"),
    ]
    assert seen.changes == 1  # one change for the snapshot and its buffered diffs
    assert tracker.members[0].node == "n1"  # the snapshot's fields are kept
    await tracker.close()


async def test_after_the_snapshot_join_and_leave_apply_at_once_and_repeats_do_nothing() -> None:
    snapshots = Snapshots()
    tracker, seen = tracker_with(snapshots)
    tracker.refresh()
    (await snapshots.next_request(1)).set_result(answer("a"))
    await tracker.wait_synced(timeout=5)
    seen.events.clear()

    tracker.joined(m("b", "bob"))
    assert "b" in tracker
    assert len(tracker) == 2
    tracker.joined(m("b", "bob"))  # a re-sent join: already a member
    tracker.left(m("a"))
    tracker.left(m("a"))  # a re-sent leave: already gone
    tracker.left(m("zz"))  # never was a member
    assert tracker.members == (m("b", "bob"),)
    assert seen.events == [("join", "b"), ("leave", "a")]
    await tracker.close()


async def test_a_resume_rereads_the_snapshot_and_drops_who_left_while_away() -> None:
    snapshots = Snapshots()
    tracker, seen = tracker_with(snapshots)
    tracker.refresh()
    (await snapshots.next_request(1)).set_result(answer("me", "a", "b"))
    await tracker.wait_synced(timeout=5)
    seen.events.clear()

    tracker.interrupted()  # the connection is gone; a left, c joined meanwhile
    assert not tracker.synced
    assert tracker.sessions == {"me", "a", "b"}  # the last list stays until we know better
    tracker.refresh()  # the resubscription's `ok`
    tracker.left(m("b"))  # right after the resubscription, before the snapshot
    (await snapshots.next_request(2)).set_result(answer("me", "b", "c"))
    await tracker.wait_synced(timeout=5)

    assert tracker.sessions == {"me", "c"}
    assert seen.events == [("leave", "a"), ("join", "c"), ("leave", "b")]
    await tracker.close()


async def test_a_snapshot_in_flight_when_the_connection_drops_is_not_applied() -> None:
    snapshots = Snapshots()
    tracker, _ = tracker_with(snapshots)
    tracker.refresh()
    stale = await snapshots.next_request(1)
    tracker.interrupted()
    await eventually(lambda: stale.cancelled(), timeout=5, message="the old request abandoned")
    tracker.refresh()
    (await snapshots.next_request(2)).set_result(answer("fresh"))
    await tracker.wait_synced(timeout=5)
    assert tracker.sessions == {"fresh"}
    await tracker.close()


async def test_a_failed_snapshot_keeps_the_list_applies_what_came_and_asks_again() -> None:
    snapshots = Snapshots()
    tracker, seen = tracker_with(snapshots)
    tracker.refresh()
    (await snapshots.next_request(1)).set_result(answer("a"))
    await tracker.wait_synced(timeout=5)
    tracker.interrupted()
    tracker.refresh()
    tracker.joined(m("b"))
    (await snapshots.next_request(2)).set_exception(Unavailable("presence unavailable"))
    await tracker.wait_attempted(timeout=5)
    await eventually(lambda: "b" in tracker, timeout=5, message="the buffered join applied")
    assert tracker.sessions == {"a", "b"}
    assert not tracker.synced

    (await snapshots.next_request(3)).set_result(answer("b", "c"))  # asked again
    await tracker.wait_synced(timeout=5)
    assert tracker.sessions == {"b", "c"}
    assert ("leave", "a") in seen.events
    assert ("join", "c") in seen.events
    await tracker.close()


async def test_a_counts_only_topic_keeps_totals_and_the_sample_without_member_events() -> None:
    snapshots = Snapshots()
    tracker, seen = tracker_with(snapshots)
    tracker.refresh()
    (await snapshots.next_request(1)).set_result(answer("a", "b", count=1500, users=900))
    await tracker.wait_synced(timeout=5)
    assert tracker.counts == PresenceCounts("room", 1500, 900)
    assert tracker.sessions == {"a", "b"}  # the sample
    assert seen.events == []  # a sample is not members coming and going

    tracker.counted(PresenceCounts("room", 1600, 950))
    assert tracker.counts == PresenceCounts("room", 1600, 950)
    tracker.refresh()  # a resume on a counts-only topic: another sample
    (await snapshots.next_request(2)).set_result(answer("c", count=1590, users=940))
    await tracker.wait_synced(timeout=5)
    assert tracker.sessions == {"c"}
    assert seen.events == []
    assert [c.count for c in seen.counts] == [1500, 1600, 1590]

    # Back under the lower mark: the whole list, then join/leave again.
    whole = [{"session": "c", "node": "n1"}, {"session": "d", "user": "dee", "node": "n2"}]
    tracker.counted(PresenceCounts("room", 2, 1, whole))
    assert tracker.counts is None
    assert tracker.members == (PresenceMember("c", None, "n1"), PresenceMember("d", "dee", "n2"))
    assert seen.events == []
    tracker.left(m("c"))
    assert tracker.sessions == {"d"}
    assert seen.events == [("leave", "c")]
    await tracker.close()


async def test_a_closed_tracker_stops_its_task_and_its_callbacks() -> None:
    snapshots = Snapshots()
    tracker, seen = tracker_with(snapshots)
    tracker.refresh()
    request = await snapshots.next_request(1)
    await tracker.close()
    assert request.cancelled()
    assert not tracker.syncing
    assert tracker.closed
    tracker.joined(m("late"))
    tracker.refresh()
    assert len(tracker) == 0
    assert seen.events == []
    assert len(snapshots.asked) == 1
    with pytest.raises(ClientClosed):
        await tracker.wait_synced(timeout=5)
    await tracker.close()  # idempotent


async def test_a_failing_callback_does_not_stop_the_tracker() -> None:
    snapshots = Snapshots()

    def boom(_: PresenceMember) -> None:
        raise RuntimeError("application bug")

    tracker = PresenceTracker("room", snapshots, on_join=boom)
    tracker.refresh()
    (await snapshots.next_request(1)).set_result(answer("a"))
    await tracker.wait_synced(timeout=5)
    tracker.joined(m("b"))
    assert tracker.sessions == {"a", "b"}
    await tracker.close()


async def test_a_closed_client_ends_the_tracker() -> None:
    snapshots = Snapshots()
    tracker, _ = tracker_with(snapshots)
    tracker.refresh()
    (await snapshots.next_request(1)).set_exception(ClientClosed("client closed"))
    with pytest.raises(ClientClosed):
        await tracker.wait_synced(timeout=5)
    assert tracker.closed
    assert not tracker.syncing
    assert len(snapshots.asked) == 1  # not asked again
