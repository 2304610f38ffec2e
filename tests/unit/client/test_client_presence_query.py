"""The session's side of presence, without a socket: the ``presence`` request and its
answer, errors and the timeout, and which frames reach a topic's trackers (a
subscription's ``ok`` asks for a snapshot, a lost connection interrupts)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

import pytest

from haws.client import Client
from haws.client.connection import Connection
from haws.client.outbox import Request
from haws.client.presence_tracker import PresenceTracker
from haws.client.session import Session
from haws.client.types import PresenceAnswer, PresenceMember
from haws.protocol.codec import JSON
from haws.protocol.errors import Forbidden, Unavailable
from tests.support.waiting import eventually


def new_session() -> Session:
    return Session(
        codec=JSON,
        max_frame_bytes=1024,
        outbox_limit=100,
        queue_size=10,
        on_gap=lambda *_: None,
        session=None,
    )


def welcome(session: Session) -> None:
    session.attach(cast(Connection, SimpleNamespace(session="s1", node="n", url="ws://n/ws")))


async def queued(session: Session, op: str) -> Request:
    """The newest request of ``op`` in the outbox, once there."""

    def find() -> Request | None:
        found = [r for r in session.outbox.values() if r.frame["op"] == op]
        return found[-1] if found else None

    await eventually(lambda: find() is not None, timeout=5, message=f"a {op} request")
    request = find()
    assert request is not None
    return request


async def ask(session: Session, reply: dict[str, Any]) -> PresenceAnswer:
    call = asyncio.create_task(session.presence("room", 5.0))
    request = await queued(session, "presence")
    assert request.frame == {"op": "presence", "topic": "room", "id": request.id}
    await session.on_frame({**reply, "id": request.id})
    return await call


async def test_an_answer_lists_typed_members() -> None:
    session = new_session()
    got = await ask(
        session,
        {
            "op": "presence",
            "topic": "room",
            "members": [
                {"session": "a", "user": "alice", "node": "n1"},
                {"session": "b", "node": "n2"},
                {"user": "no-session"},  # malformed: dropped alone
            ],
        },
    )
    assert got == PresenceAnswer(
        "room", (PresenceMember("a", "alice", "n1"), PresenceMember("b", None, "n2"))
    )
    assert (got.count, got.users, got.sample) == (None, None, False)
    assert len(session.outbox) == 0


async def test_a_counts_only_answer_has_totals_and_says_sample() -> None:
    session = new_session()
    got = await ask(
        session,
        {
            "op": "presence",
            "topic": "room",
            "members": [{"session": "a", "node": "n1"}],
            "count": 1200,
            "users": 700,
            "sample": True,
        },
    )
    assert (got.count, got.users, got.sample) == (1200, 700, True)
    assert got.members == (PresenceMember("a", None, "n1"),)


@pytest.mark.parametrize(
    ("code", "error"), [("unavailable", Unavailable), ("forbidden", Forbidden)]
)
async def test_an_error_is_raised_as_its_class_and_not_retried(
    code: str, error: type[Exception]
) -> None:
    session = new_session()
    with pytest.raises(error, match="says the gateway"):
        await ask(session, {"op": "error", "code": code, "message": "says the gateway"})
    assert len(session.outbox) == 0  # nothing left to re-send


async def test_no_answer_within_the_timeout_raises_and_forgets_the_request() -> None:
    session = new_session()
    with pytest.raises(TimeoutError):
        await session.presence("room", 0.05)
    assert len(session.outbox) == 0


async def test_a_subscriptions_ok_asks_for_a_snapshot_and_changes_reach_the_tracker() -> None:
    session = new_session()
    welcome(session)
    tracker = PresenceTracker("room", lambda t: session.presence(t, 5.0), on_close=session.untrack)
    session.track(tracker)
    subscribing = asyncio.create_task(session.subscribe("room", None, True))
    sub = await queued(session, "sub")
    assert sub.frame["presence"] is True
    await session.on_frame({"op": "ok", "id": sub.id, "topic": "room", "seq": 0})
    await subscribing
    snapshot = await queued(session, "presence")
    await session.on_frame({"op": "join", "topic": "room", "who": {"session": "b"}})
    await session.on_frame(
        {"op": "presence", "id": snapshot.id, "topic": "room", "members": [{"session": "a"}]}
    )
    await tracker.wait_synced(timeout=5)
    assert tracker.sessions == {"a", "b"}

    await session.on_frame({"op": "leave", "topic": "room", "who": {"session": "a"}})
    await session.on_frame({"op": "leave", "topic": "room", "who": {}})  # malformed, alone
    await session.on_frame({"op": "join", "topic": "other", "who": {"session": "x"}})
    await session.on_frame(
        {"op": "counts", "topic": "room", "count": 5000, "users": 10, "mode": "counts"}
    )
    assert tracker.sessions == {"b"}
    assert tracker.counts is not None
    assert tracker.counts.count == 5000

    session.detach()  # the connection is lost
    assert not tracker.synced
    await session.unsubscribe("room")  # ends the tracker too
    assert tracker.closed
    assert "room" not in session.trackers


async def test_the_client_waits_request_timeout_for_an_answer_by_default() -> None:
    client = Client("ws://127.0.0.1:9/ws", request_timeout=0.05)  # never started
    with pytest.raises(TimeoutError):
        await client.presence("room")
    assert client.pending == 0
    with pytest.raises(ValueError, match="request_timeout"):
        Client("ws://127.0.0.1:9/ws", request_timeout=0)
    await client.close()
