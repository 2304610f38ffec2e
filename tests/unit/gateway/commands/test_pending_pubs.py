"""A connection's publishes: at most ``limit`` at once, each owned until done."""

from __future__ import annotations

import asyncio

from haws.gateway.commands.pending_pubs import PendingPubs


async def test_the_next_start_waits_while_the_limit_is_reached() -> None:
    publishes = PendingPubs(limit=2)
    gates = [asyncio.Event() for _ in range(3)]
    started: list[int] = []

    async def publish(n: int) -> None:
        started.append(n)
        await gates[n].wait()

    await publishes.start(publish(0))
    await publishes.start(publish(1))
    third = asyncio.create_task(publishes.start(publish(2)))
    await asyncio.sleep(0)
    assert not third.done()
    assert len(publishes) == 2
    gates[0].set()
    await asyncio.wait_for(third, 1)
    gates[1].set()
    gates[2].set()
    await asyncio.wait_for(publishes.finish(), 1)
    assert sorted(started) == [0, 1, 2]
    assert len(publishes) == 0


async def test_finish_waits_for_every_publish() -> None:
    publishes = PendingPubs(limit=4)
    done: list[int] = []

    async def publish(n: int) -> None:
        await asyncio.sleep(0)
        done.append(n)

    for n in range(3):
        await publishes.start(publish(n))
    await asyncio.wait_for(publishes.finish(), 1)
    assert sorted(done) == [0, 1, 2]


async def test_cancel_stops_what_is_in_flight() -> None:
    publishes = PendingPubs(limit=4)
    forever = asyncio.Event()
    cancelled: list[bool] = []

    async def publish() -> None:
        try:
            await forever.wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    await publishes.start(publish())
    await asyncio.sleep(0)
    await asyncio.wait_for(publishes.cancel(), 5)
    assert cancelled == [True]
    assert len(publishes) == 0
