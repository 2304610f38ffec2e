"""Leadership.stop ends its loops even when a step swallows the cancellation.

On Python 3.11 ``asyncio.wait_for`` (inside every nats-py request, and around
the emitter's flush) returns the result instead of raising when the
cancellation lands as the reply arrives. A lease step that does so must not
keep the loop, and with it the replica's shutdown, running for ever: seen as a
fixture teardown hanging until pytest-timeout under machine load.
"""

from __future__ import annotations

import asyncio

from haws.presence.lease import LeaderLease, LeaseView
from haws.presence.store_memory import MemoryStore
from tests.unit.presence.fakes import LOG
from tests.unit.presence.leaders import leadership

TTL = 0.3


class SwallowingLease(LeaderLease):
    """The first tick behaves as ``wait_for`` does on 3.11 when the reply and the
    cancellation arrive together: it returns a value, the cancellation is gone."""

    def __init__(self, store: MemoryStore) -> None:
        super().__init__(store, LOG, holder="a", ttl=TTL)
        self.in_first_tick = asyncio.Event()
        self.swallowed = False

    async def tick(self, emitted: int) -> LeaseView:
        if not self.swallowed:
            self.in_first_tick.set()
            try:
                await asyncio.sleep(3600)  # a reply that is cancelled as it lands
            except asyncio.CancelledError:
                self.swallowed = True
                return self._view()
        return await super().tick(emitted)


async def test_stop_ends_the_loops_when_a_step_swallowed_the_cancellation() -> None:
    store = MemoryStore()
    lease = SwallowingLease(store)
    leader = leadership(store, [lease])
    leader.start()
    await asyncio.wait_for(lease.in_first_tick.wait(), 5)
    stopping = asyncio.create_task(leader.stop())
    try:
        done, _ = await asyncio.wait({stopping}, timeout=5)
        assert lease.swallowed
        assert stopping in done, "Leadership.stop hung: a loop outlived its cancellation"
        stopping.result()
        assert not [t for t in asyncio.all_tasks() if t.get_name() in ("lease", "sweep")]
    finally:
        # Before the fix the loops run on: end them so the test fails instead of hanging.
        for _ in range(10):
            loops = [t for t in asyncio.all_tasks() if t.get_name() in ("lease", "sweep")]
            if not loops and stopping.done():
                break
            for task in [*loops, stopping]:
                task.cancel()
            await asyncio.wait([*loops, stopping], timeout=0.5)
