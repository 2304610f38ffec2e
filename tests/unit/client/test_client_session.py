"""The session's reaction to server frames, without a socket: what gets queued to send."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

import pytest

from haws.client.connection import Connection
from haws.client.session import Session
from haws.client.types import ClientError
from haws.protocol.codec import JSON
from haws.protocol.errors import BadRequest, Forbidden, TooLarge


def new_session() -> Session:
    return Session(
        codec=JSON,
        max_frame_bytes=1024,
        outbox_limit=100,
        queue_size=10,
        on_gap=lambda *_: None,
        session=None,
    )


def queued(session: Session) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.frame.items() if k != "id"} for r in session.outbox.values()]


def confirmed(session: Session, topic: str, seq: int, presence: bool = False) -> None:
    session.cursors.add(topic, since=None, presence=presence)
    session.cursors.confirm(topic, seq)


def welcome(session: Session, sid: str = "s1") -> None:
    session.attach(cast(Connection, SimpleNamespace(session=sid, node="n", url="ws://n/ws")))


async def test_hello_names_the_session_and_confirmed_cursors() -> None:
    session = new_session()
    assert session.hello(batch=True, token="tok") == {
        "op": "hello",
        "v": 1,
        "batch": True,
        "token": "tok",
    }
    welcome(session, "s9")
    confirmed(session, "a", 5)
    confirmed(session, "who", 3, presence=True)
    hello = session.hello(batch=False, token=None)
    assert (hello["session"], hello["cursors"]) == ("s9", {"a": 5})


async def test_presence_subscriptions_are_subscribed_again_after_their_cursor() -> None:
    session = new_session()
    confirmed(session, "a", 5)
    confirmed(session, "who", 3, presence=True)
    session.hello(batch=True, token=None)
    welcome(session)
    assert queued(session) == [{"op": "sub", "topic": "who", "since": 3, "presence": True}]


async def test_a_failed_restore_subscribes_again_what_was_not_recovered() -> None:
    session = new_session()
    for topic, seq in (("a", 5), ("b", 7)):
        confirmed(session, topic, seq)
    session.hello(batch=True, token=None)
    welcome(session)
    await session.on_frame({"op": "recovered", "topic": "a", "complete": True})
    await session.on_frame({"op": "error", "code": "unavailable", "message": "stream away"})
    assert queued(session) == [{"op": "sub", "topic": "b", "since": 7}]


async def test_messages_of_a_topic_not_subscribed_queue_one_unsub() -> None:
    session = new_session()
    for seq in (1, 2):
        frame = {"op": "msg", "topic": "stale", "seq": seq, "prev": seq - 1, "ts": 0, "data": 0}
        await session.on_frame(frame)
    assert queued(session) == [{"op": "unsub", "topic": "stale"}]
    assert session.stats.delivered == 0


async def test_malformed_frames_are_ignored() -> None:
    session = new_session()
    await session.on_frame({"op": "msg", "topic": "t"})
    await session.on_frame({"op": "ack"})
    assert session.stats.delivered == 0


async def test_unsubscribe_while_the_subscribe_waits_fails_the_subscribe() -> None:
    session = new_session()
    subscribing = asyncio.create_task(session.subscribe("t", None, False))
    await asyncio.sleep(0)
    await session.unsubscribe("t")
    with pytest.raises(ClientError, match="unsubscribed"):
        await subscribing
    assert queued(session) == [{"op": "unsub", "topic": "t"}]
    assert "t" not in session.cursors


async def test_a_refused_subscribe_raises_and_is_forgotten() -> None:
    session = new_session()
    subscribing = asyncio.create_task(session.subscribe("t", 0, False))
    await asyncio.sleep(0)
    (request,) = session.outbox.values()
    error = {"op": "error", "id": request.id, "code": "forbidden", "message": "no"}
    await session.on_frame(error)
    with pytest.raises(Forbidden, match="no"):
        await subscribing
    assert "t" not in session.cursors
    assert len(session.outbox) == 0


async def test_too_large_or_unencodable_data_fails_in_the_caller_and_is_not_queued() -> None:
    session = new_session()
    with pytest.raises(TooLarge, match="max_frame_bytes"):
        await session.publish("t", "x" * 2000, None)
    with pytest.raises(BadRequest, match="cannot encode"):
        await session.publish("t", object(), None)
    assert len(session.outbox) == 0


async def test_a_1009_close_fails_the_largest_waiting_publish() -> None:
    session = new_session()
    small = asyncio.create_task(session.publish("t", "x", None))
    large = asyncio.create_task(session.publish("t", "x" * 900, None))
    await asyncio.sleep(0)
    session.fail_largest_publish()
    with pytest.raises(TooLarge):
        await large
    assert not small.done()
    assert [f["data"] for f in queued(session)] == ["x"]
    small.cancel()
    await asyncio.gather(small, return_exceptions=True)
