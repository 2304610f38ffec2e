"""Two replicas in one event loop: one leader, and a clean stop hands over at once."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from tests.integration.presence.presence_support import (
    FAST,
    GatewayDouble,
    Recorder,
    replica_pair,
    unique,
)
from tests.support.waiting import eventually


async def test_clean_stop_of_the_leader_hands_over_without_waiting_a_ttl(
    shared_nats: Any, gw1: GatewayDouble, recorder: Recorder, topic: str
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        pair = await replica_pair(stack, shared_nats.url)
        services, leader, follower = pair.services, pair.leader, pair.follower
        async with gw1.beating():
            first = await gw1.claim(unique("a-"))
            await gw1.sub(first, topic)
            await recorder.wait(lambda: len(recorder.on(topic)) == 1)
            stopped_at = time.monotonic()
            await services[leader].stop()
            second = await gw1.claim(unique("b-"))
            await gw1.sub(second, topic)
            await eventually(lambda: follower.leadership.leading, timeout=5)
            assert time.monotonic() - stopped_at < FAST["leader_ttl"]  # no ttl to wait out
            await recorder.wait_for("join", second.session)
            assert await gw1.members(topic) == {first.session, second.session}
        # The vacant lease said exactly what was published: nothing is sent twice.
        assert [(c.kind, c.session) for c in recorder.on(topic)] == [
            ("join", first.session),
            ("join", second.session),
        ]
