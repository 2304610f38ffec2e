"""Iterators: bounded queues, per-topic routing with the shared inbox as fallback, close."""

from __future__ import annotations

import asyncio

import pytest

from haws.client.inbox import Inbox
from haws.client.router import Router
from haws.client.types import Message, SessionTakenOver


def message(topic: str, seq: int) -> Message:
    return Message(topic=topic, seq=seq, prev=seq - 1, ts=0, data=seq)


async def test_a_full_inbox_makes_the_producer_wait_for_room() -> None:
    inbox: Inbox[int] = Inbox(2)
    await inbox.put(1)
    await inbox.put(2)
    blocked = asyncio.create_task(inbox.put(3))
    await asyncio.sleep(0)
    assert not blocked.done()
    assert await inbox.get() == 1
    assert await asyncio.wait_for(blocked, 1.0) is True
    assert [await inbox.get(), await inbox.get()] == [2, 3]


async def test_close_lets_readers_finish_then_ends_or_raises() -> None:
    inbox: Inbox[int] = Inbox(5)
    await inbox.put(1)
    inbox.close()
    assert await inbox.put(2) is False
    assert await inbox.get() == 1
    with pytest.raises(StopAsyncIteration):
        await inbox.get()
    failed: Inbox[int] = Inbox(5)
    failed.close(SessionTakenOver("4009"))
    with pytest.raises(SessionTakenOver):
        await failed.get()


async def test_a_topic_with_its_own_iterators_skips_the_shared_inbox() -> None:
    router = Router(queue_size=10)
    everything = router.messages()
    room = router.subscription("room")
    room_too = router.subscription("room")
    await router.deliver(message("room", 1))
    await router.deliver(message("other", 2))
    assert len(everything) == 1
    assert (await anext(room)).seq == 1
    assert (await anext(room_too)).seq == 1
    assert (await anext(everything)).seq == 2
    room.close()
    room_too.close()
    await router.deliver(message("room", 3))
    assert (await anext(everything)).seq == 3


async def test_delivery_reports_a_stall_while_the_application_is_slow() -> None:
    router = Router(queue_size=1)
    stream = router.subscription("t")
    await router.deliver(message("t", 1))
    delivering = asyncio.create_task(router.deliver(message("t", 2)))
    await asyncio.sleep(0)
    assert router.stalled
    assert (await anext(stream)).seq == 1
    await asyncio.wait_for(delivering, 1.0)
    assert not router.stalled


async def test_closing_the_router_ends_every_iterator() -> None:
    router = Router(queue_size=10)
    shared, own = router.messages(), router.subscription("t")
    router.close()
    with pytest.raises(StopAsyncIteration):
        await anext(shared)
    with pytest.raises(StopAsyncIteration):
        await anext(own)
    late = router.subscription("t")
    with pytest.raises(StopAsyncIteration):
        await anext(late)
