"""Socket writes gather while the loop is behind, and only then: the busy rule
with its hysteresis, a flush pass deferred by ``coalesce`` while busy and run in
the next iteration otherwise, and the probe reading a real loop's lateness."""

from __future__ import annotations

import asyncio
import time

import pytest

from haws.common.logs import get_logger
from haws.gateway.delivery.flusher import Flusher
from haws.gateway.delivery.load import BUSY_PROBES, QUIET_PROBES, LoopLoad
from haws.gateway.delivery.wire import WireFrames
from haws.gateway.metrics import GatewayMetrics
from tests.support.waiting import eventually

LAG = 0.02


class Recorded:
    """A connection's side of the pass: when it was flushed."""

    def __init__(self) -> None:
        self.flushed_at: list[float] = []

    def flush(self, wire: WireFrames) -> None:
        self.flushed_at.append(asyncio.get_running_loop().time())


def gathered(metrics: GatewayMetrics) -> float | None:
    return metrics.registry.get_sample_value("haws_gateway_writes_gathered")


def busy_now(load: LoopLoad) -> None:
    for _ in range(BUSY_PROBES):
        load.observe(LAG)


def test_busy_after_a_run_of_late_probes_and_quiet_after_a_run_of_quiet_ones() -> None:
    metrics = GatewayMetrics()
    load = LoopLoad(busy_lag=LAG, coalesce=0.05, metrics=metrics)
    for _ in range(BUSY_PROBES - 1):
        load.observe(LAG)
    load.observe(LAG / 2)  # a burst, not a node behind: the count starts again
    for _ in range(BUSY_PROBES - 1):
        load.observe(LAG)
    assert not load.busy
    load.observe(LAG)
    assert load.busy
    assert gathered(metrics) == 1
    for _ in range(QUIET_PROBES - 1):
        load.observe(LAG / 8)
    load.observe(LAG / 2)  # not quiet enough: the count starts again
    for _ in range(QUIET_PROBES - 1):
        load.observe(LAG / 8)
    assert load.busy
    load.observe(LAG / 8)
    assert not load.busy
    assert gathered(metrics) == 0


def test_without_a_coalesce_delay_nothing_ever_gathers() -> None:
    load = LoopLoad(busy_lag=LAG, coalesce=0.0)
    load.observe(1.0)
    assert not load.busy
    assert load.lag == 1.0


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="coalesce"):
        LoopLoad(busy_lag=0.0, coalesce=0.05)


async def test_a_pass_waits_coalesce_while_busy_and_not_otherwise() -> None:
    load = LoopLoad(busy_lag=LAG, coalesce=0.2)
    flusher = Flusher(get_logger("test"), load)
    loop = asyncio.get_running_loop()

    idle = Recorded()
    asked = loop.time()
    flusher.schedule(idle)
    await eventually(lambda: bool(idle.flushed_at), message="the idle pass")
    assert idle.flushed_at[0] - asked < 0.1  # the next iteration, not 0.2 s later

    busy_now(load)
    busy = Recorded()
    asked = loop.time()
    flusher.schedule(busy)
    await eventually(lambda: bool(busy.flushed_at), message="the busy pass")
    assert busy.flushed_at[0] - asked >= 0.2


async def test_the_probe_reads_a_blocked_loop_as_busy() -> None:
    load = LoopLoad(busy_lag=LAG, coalesce=0.05, probe=0.01)
    load.start()
    try:
        # The stimulus: one loop iteration after another held 0.05 s, as long passes
        # would; bounded, it ends by itself.
        loop = asyncio.get_running_loop()
        holding = [True]

        def hold(left: int) -> None:
            time.sleep(0.05)
            if left > 0 and holding[0]:
                loop.call_later(0.001, hold, left - 1)

        loop.call_soon(hold, BUSY_PROBES * 10)
        await eventually(lambda: load.busy, timeout=5, message="busy")
        assert load.lag >= LAG
    finally:
        holding[0] = False
        await load.stop()
    assert not load.busy
