"""The fence closes after a pause and only the heartbeat loop reopens it."""

from __future__ import annotations

import asyncio

from haws.gateway.sessions.fence import Fence


async def test_disabled_fence_never_closes() -> None:
    fence = Fence(threshold=0.0)
    await asyncio.sleep(0.01)
    assert fence.is_open()


async def test_pause_longer_than_the_threshold_closes_until_reopened() -> None:
    fence = Fence(threshold=0.05)
    fence.enabled = True
    assert fence.is_open()
    await asyncio.sleep(0.1)  # the node "paused": no tick for longer than the threshold
    assert not fence.is_open()
    waiter = asyncio.create_task(fence.wait_open())
    await asyncio.sleep(0)
    assert not waiter.done()
    fence.reopen()
    await asyncio.wait_for(waiter, 1)
    assert fence.is_open()


async def test_regular_ticks_keep_it_open() -> None:
    fence = Fence(threshold=0.2)
    fence.enabled = True
    for _ in range(5):
        await asyncio.sleep(0.05)
        fence.tick()
        assert fence.is_open()
