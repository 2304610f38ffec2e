"""(haws) ``counts`` frames of counts-only topics reach ``on_counts``; without it, and
for ops the SDK does not know, nothing breaks."""

from __future__ import annotations

from haws.client.session import Session
from haws.client.types import PresenceCounts
from haws.protocol.codec import JSON


def new_session(*, with_callback: bool = True) -> tuple[Session, list[PresenceCounts]]:
    seen: list[PresenceCounts] = []
    session = Session(
        codec=JSON,
        max_frame_bytes=1024,
        outbox_limit=100,
        queue_size=10,
        on_gap=lambda *_: None,
        session=None,
        on_counts=seen.append if with_callback else None,
    )
    return session, seen


async def test_counts_reach_the_callback() -> None:
    session, seen = new_session()
    await session.on_frame(
        {"op": "counts", "topic": "room", "count": 1200, "users": 800, "mode": "counts"}
    )
    members = [{"session": "a", "node": "n"}]
    await session.on_frame(
        {
            "op": "counts",
            "topic": "room",
            "count": 1,
            "users": 0,
            "mode": "members",
            "members": members,
        }
    )
    assert seen == [
        PresenceCounts("room", 1200, 800),
        PresenceCounts("room", 1, 0, members),
    ]


async def test_an_sdk_without_the_callback_or_an_unknown_op_ignores_the_frame() -> None:
    session, seen = new_session(with_callback=False)
    await session.on_frame({"op": "counts", "topic": "room", "count": 3, "users": 0})
    await session.on_frame({"op": "join", "topic": "room", "who": {"session": "x"}})
    await session.on_frame({"op": "something.new", "topic": "room"})
    assert seen == []
    assert not list(session.outbox.values())  # nothing sent back


async def test_a_malformed_counts_frame_is_dropped_alone() -> None:
    session, seen = new_session()
    await session.on_frame({"op": "counts", "topic": "room"})  # no count
    await session.on_frame({"op": "counts", "topic": "room", "count": 2, "users": 1})
    assert seen == [PresenceCounts("room", 2, 1)]
