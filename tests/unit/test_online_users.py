"""The example consumer's table: duplicates and stale disconnects change nothing."""

from __future__ import annotations

from examples.python.online_users import OnlineUsers
from haws.server import EventType, LifecycleEvent, Reason


def ev(
    kind: EventType, session: str, epoch: int, n: int, reason: Reason | None = None
) -> LifecycleEvent:
    return LifecycleEvent(f"{session}:{n}:0", kind, session, f"user-{session}", "n", "c", epoch, 0,
                          reason)  # fmt: skip


def test_a_late_takeover_disconnect_does_not_take_a_resumed_user_offline() -> None:
    table = OnlineUsers()
    table.apply(ev("connect", "a", 1, 1))
    table.apply(ev("connect", "b", 1, 1))
    assert table.apply(ev("resume", "a", 2, 3))
    assert not table.apply(ev("disconnect", "a", 1, 2, "takeover"))  # older epoch: stale
    assert table.apply(ev("disconnect", "b", 1, 2, "node_dead"))
    assert not table.apply(ev("disconnect", "b", 1, 2, "node_dead"))  # same id again
    assert table.users() == {"user-a"}
