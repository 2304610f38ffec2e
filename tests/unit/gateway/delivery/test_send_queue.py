"""The per-connection queue: bounded by frames and bytes, overflow is final."""

from __future__ import annotations

import asyncio

import pytest

from haws.gateway.delivery.send_queue import SendQueue


def test_frames_limit_overflows_and_drops_the_queue() -> None:
    q = SendQueue(max_frames=3, max_bytes=1000)
    assert all(q.put(b"x") for _ in range(3))
    assert not q.put(b"x")
    assert q.overflowed
    assert len(q) == 0
    assert q.queued_bytes == 0
    assert not q.put(b"x")  # stays overflowed: the connection is closing 4008
    assert q.take_all() == []


def test_bytes_limit() -> None:
    q = SendQueue(max_frames=100, max_bytes=10)
    assert q.put(b"12345")
    assert q.put(b"12345")
    assert not q.put(b"1")
    assert q.overflowed


def test_a_first_frame_over_the_bytes_limit_overflows() -> None:
    q = SendQueue(max_frames=100, max_bytes=10)
    assert not q.put(b"x" * 11)
    assert q.overflowed


def test_empty_queue_after_take_all_accepts_again() -> None:
    q = SendQueue(max_frames=2, max_bytes=100)
    assert q.put(b"a")
    assert q.put(b"b")
    assert q.take_all() == [b"a", b"b"]
    assert q.take_all() == []
    assert q.put(b"c")
    assert q.put(b"d")
    assert len(q) == 2
    assert not q.overflowed


def test_take_all_empties_in_order() -> None:
    q = SendQueue(10, 100)
    for n in range(3):
        q.put(bytes([n]))
    assert q.take_all() == [b"\x00", b"\x01", b"\x02"]
    assert len(q) == 0
    assert q.queued_bytes == 0


async def test_room_waits_until_the_writer_takes_frames() -> None:
    q = SendQueue(4, 1000)
    for _ in range(3):
        q.put(b"x")
    room = asyncio.create_task(q.room(timeout=1))
    await asyncio.sleep(0)
    assert not room.done()
    q.take_all()
    await asyncio.wait_for(room, 1)


async def test_room_times_out_when_nobody_drains() -> None:
    q = SendQueue(2, 1000)
    q.put(b"x")
    q.put(b"x")
    with pytest.raises(TimeoutError):
        await q.room(timeout=0.05)
