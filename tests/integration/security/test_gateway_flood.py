"""A command flood from one client: refused ``rate_limited``, then closed 4002,
while another client on the same node keeps its normal latency."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.integration.conftest import Connect
from tests.integration.security.conftest import StartGateway
from tests.support.ws_client import WsClient

pytestmark = pytest.mark.integration

FLOOD = 1000
"""Commands one flooder tries to send, paced over one second."""
RATE, BURST, STRIKES = 100, 100, 300
PROBES = 20
"""Bystander round trips measured while a flood is on, however slow the machine."""
FLOODERS = 20
"""At most this many flooders, one after the other (each is closed 4002)."""
DEADLINE = 30.0


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[int(0.99 * (len(ordered) - 1))]


async def test_flood_is_limited_then_closed_and_others_stay_fast(
    gateway_with: StartGateway, connect: Connect, topic: str
) -> None:
    """One flooder's flood lasts until its strikes close it (about half a second),
    which on a loaded machine leaves room for too few probes. So flooders follow
    one another until the bystander has ``PROBES`` samples taken while one of them
    floods (bounded in count and time); each one is checked the same way."""
    settings = {"command_rate": RATE, "command_burst": BURST, "command_strikes": STRIKES}
    async with gateway_with(**settings) as gw:
        bystander = await connect(gw.url)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DEADLINE
        flooding = asyncio.Event()
        """Set while a flooder sends: probes are taken only then."""
        flood_over = asyncio.Event()
        rtts: list[float] = []
        flooders: list[tuple[WsClient, float]] = []

        async def flood_once(flooder: WsClient) -> float:
            started = loop.time()
            flooding.set()
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
                flooding.clear()
            return loop.time() - started

        async def flood() -> None:
            try:
                while len(rtts) < PROBES and len(flooders) < FLOODERS and loop.time() < deadline:
                    flooder = await connect(gw.url)
                    flooders.append((flooder, await flood_once(flooder)))
                    assert await flooder.wait_closed(timeout=5) == 4002
            finally:
                flood_over.set()

        async def measure() -> None:
            while not flood_over.is_set() and len(rtts) < 2000 and loop.time() < deadline:
                if not flooding.is_set():
                    await asyncio.sleep(0.005)  # between two flooders: nothing to measure
                    continue
                sent = time.perf_counter()
                assert (await bystander.request({"op": "ping"}, timeout=2.0))["op"] == "pong"
                rtts.append(time.perf_counter() - sent)
                await asyncio.sleep(0.015)  # the probe stays under its own rate limit

        await asyncio.gather(flood(), measure())

        print(f"\n{len(rtts)} probes during {len(flooders)} floods, p99 {p99(rtts) * 1000:.1f} ms")
        limited_total = 0
        for flooder, elapsed in flooders:
            limited = [f for f in flooder.others if f.get("code") == "rate_limited"]
            acked = [f for f in flooder.others if f.get("op") == "ack"]
            assert limited, "no rate_limited error before the close"
            assert all("id" in f for f in limited)
            assert len(acked) <= BURST + RATE * elapsed + 5, (len(acked), elapsed)
            limited_total += len(limited)
        assert gw.deps.metrics.limit_hits.labels("commands")._value.get() >= limited_total
        assert len(rtts) >= PROBES, (len(rtts), len(flooders))
        assert p99(rtts) < 0.25, f"bystander p99 {p99(rtts) * 1000:.1f} ms"
        # The bystander is still served normally after the flooders are gone.
        assert (await bystander.sub(topic))["op"] == "ok"
