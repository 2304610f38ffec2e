"""A command flood from one client: refused ``rate_limited``, then closed 4002,
while another client on the same node keeps its normal latency."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.integration.conftest import Connect
from tests.integration.security.conftest import StartGateway

pytestmark = pytest.mark.integration

FLOOD = 1000
"""Commands the flooder tries to send, paced over one second."""
RATE, BURST, STRIKES = 100, 100, 300


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[int(0.99 * (len(ordered) - 1))]


async def test_flood_is_limited_then_closed_and_others_stay_fast(
    gateway_with: StartGateway, connect: Connect, topic: str
) -> None:
    settings = {"command_rate": RATE, "command_burst": BURST, "command_strikes": STRIKES}
    async with gateway_with(**settings) as gw:
        bystander = await connect(gw.url)
        flooder = await connect(gw.url)
        loop = asyncio.get_running_loop()
        flood_over = asyncio.Event()
        rtts: list[float] = []

        async def flood() -> float:
            started = loop.time()
            try:
                for n in range(FLOOD):
                    if flooder.closed.is_set():
                        break
                    await flooder.send({"op": "pub", "id": n + 1, "topic": topic, "data": n})
                    if n % 50 == 49:  # pace: 1000 commands over one second
                        await asyncio.sleep(max(0.0, started + (n + 1) / FLOOD - loop.time()))
            except ConnectionResetError:
                pass  # the gateway closed us mid-send
            finally:
                flood_over.set()
            return loop.time() - started

        async def measure() -> None:
            deadline = loop.time() + 5.0
            while not flood_over.is_set() and len(rtts) < 2000 and loop.time() < deadline:
                sent = time.perf_counter()
                assert (await bystander.request({"op": "ping"}, timeout=2.0))["op"] == "pong"
                rtts.append(time.perf_counter() - sent)
                await asyncio.sleep(0.015)  # the probe stays under its own rate limit

        elapsed, _ = await asyncio.gather(flood(), measure())

        assert await flooder.wait_closed(timeout=5) == 4002
        limited = [f for f in flooder.others if f.get("code") == "rate_limited"]
        acked = [f for f in flooder.others if f.get("op") == "ack"]
        assert limited, "no rate_limited error before the close"
        assert all("id" in f for f in limited)
        assert len(acked) <= BURST + RATE * elapsed + 5, (len(acked), elapsed)
        assert gw.deps.metrics.limit_hits.labels("commands")._value.get() >= len(limited)
        assert len(rtts) >= 20
        assert p99(rtts) < 0.25, f"bystander p99 {p99(rtts) * 1000:.1f} ms"
        # The bystander is still served normally after the flooder is gone.
        assert (await bystander.sub(topic))["op"] == "ok"
