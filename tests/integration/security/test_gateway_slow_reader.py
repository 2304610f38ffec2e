"""A client that never reads while messages flow: closed 4008 with its queue never
over the limit, then it resumes from its cursor with no gap."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from haws.gateway.delivery.send_queue import SendQueue
from tests.integration.conftest import Connect
from tests.integration.security.conftest import StartGateway
from tests.support.waiting import eventually
from tests.support.ws_client import assert_chain

pytestmark = pytest.mark.integration

QUEUE_BYTES = 64 * 1024
PAYLOAD = "x" * 8000
MAX_PUBS = 3000


async def test_never_reading_client_is_cut_at_the_queue_limit_and_resumes_without_gap(
    gateway_with: StartGateway,
    connect: Connect,
    topic: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    peaks: dict[int, int] = {}
    put = SendQueue.put

    def measured_put(self: SendQueue, frame: bytes) -> bool:
        """Every enqueue, not a sample: the peak is exact."""
        accepted = put(self, frame)
        peaks[id(self)] = max(peaks.get(id(self), 0), self.queued_bytes)
        return accepted

    monkeypatch.setattr(SendQueue, "put", measured_put)
    settings = {"send_queue_bytes": QUEUE_BYTES, "slow_consumer_grace": 0.5}
    async with gateway_with(**settings) as gw:
        stalled = await connect(gw.url)
        session = stalled.others[0]["session"]
        cursor = (await stalled.sub(topic))["seq"]
        conn = gw.deps.hub.by_session[session]
        stalled._reader.cancel()  # from here on the client reads nothing at all
        await asyncio.gather(stalled._reader, return_exceptions=True)

        publisher = await connect(gw.url)
        acks: list[dict[str, Any]] = []
        while not conn.queue.overflowed and len(acks) < MAX_PUBS:
            acks.append(await publisher.pub(topic, {"n": len(acks), "pad": PAYLOAD}))
        assert conn.queue.overflowed, "the stalled client never overflowed its queue"
        for n in range(len(acks), len(acks) + 20):  # messages keep flowing meanwhile
            acks.append(await publisher.pub(topic, {"n": n, "pad": PAYLOAD}))

        await eventually(lambda: conn not in gw.deps.hub.connections, message="cut off")
        assert conn.sent_close == 4008
        assert gw.deps.metrics.slow_consumers._value.get() == 1
        assert peaks[id(conn.queue)] <= QUEUE_BYTES
        assert max(peaks.values()) <= QUEUE_BYTES

        again = await connect(gw.url, session=session, cursors={topic: cursor})
        msgs = await again.wait_msgs(topic, len(acks), timeout=20)
        assert [m["seq"] for m in msgs] == [a["seq"] for a in acks]
        assert [m["data"]["n"] for m in msgs] == list(range(len(acks)))
        assert_chain(msgs, first_prev=cursor)
        assert (await again.recv("recovered"))["complete"] is True
