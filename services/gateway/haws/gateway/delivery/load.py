"""Whether this node's event loop is behind, and so whether socket writes gather.

A flush pass normally runs in the loop iteration after the first frame was
queued, so a message reaches each subscriber in a write of its own whenever
messages arrive one per iteration: at 50 msg/s to 2,500 subscribers, 125,000
writes a second, each a system call that also runs the loopback peer's TCP
receive. In failover-2500 those writes took three quarters of a survivor's
CPU, and the resuming clients waited behind them.

When the loop falls behind, a write pass waits ``coalesce`` seconds before it
runs, so each socket write carries what arrived meanwhile. The node then does
the same work in far fewer writes, and catches up. Lateness is measured by a
probe: a timer that should fire every ``probe`` seconds, and how late it
fires. Busy starts after ``BUSY_PROBES`` probes in a row at least
``busy_lag`` late: a node that is behind for a while, not one that met a
burst, a collection or the end of a connect storm. It ends after
``QUIET_PROBES`` probes in a row under a quarter of that, so gathering does not
switch on and off with every pass it shortens. On an idle or merely busy node
nothing changes: writes go out in the next iteration, as before.

What a client may observe: while its node is overloaded, frames arrive up to
``coalesce`` (50 ms by default) later than they otherwise would, and several
arrive together. Order, backpressure and close codes are unchanged.
"""

from __future__ import annotations

import asyncio
from typing import Final

from haws.common.logs import EventLogger
from haws.common.tasks import stop_task
from haws.gateway.metrics import GatewayMetrics

BUSY_PROBES: Final = 3
"""Probes in a row at least ``busy_lag`` late before gathering starts (150 ms at 50 ms)."""
QUIET_PROBES: Final = 10
"""Probes in a row under a quarter of ``busy_lag`` before it stops (0.5 s at 50 ms)."""


class LoopLoad:
    def __init__(
        self,
        *,
        busy_lag: float,
        coalesce: float,
        probe: float = 0.05,
        log: EventLogger | None = None,
        metrics: GatewayMetrics | None = None,
    ) -> None:
        if coalesce < 0 or busy_lag <= 0 or probe <= 0:
            raise ValueError("coalesce must be >= 0, busy_lag and probe > 0")
        self.coalesce = coalesce
        self._busy_lag = busy_lag
        self._probe = probe
        self._log = log
        self._metrics = metrics
        self.busy = False
        """Write passes wait ``coalesce`` before they run (never while it is 0)."""
        self.lag = 0.0
        """How late the last probe fired, in seconds."""
        self._quiet = 0
        self._late = 0
        self._task: asyncio.Task[None] | None = None

    def observe(self, lag: float) -> None:
        """One probe's lateness: the rule, apart from the timer (tests drive it)."""
        self.lag = lag
        if self._metrics is not None:
            self._metrics.loop_lag.set(lag)
        if self.coalesce <= 0:
            return
        if not self.busy:
            self._late = self._late + 1 if lag >= self._busy_lag else 0
            if self._late >= BUSY_PROBES:
                self._switch(True)
            return
        self._quiet = self._quiet + 1 if lag < self._busy_lag / 4 else 0
        if self._quiet >= QUIET_PROBES:
            self._switch(False)

    def _switch(self, busy: bool) -> None:
        self.busy = busy
        self._quiet = self._late = 0
        if self._metrics is not None:
            self._metrics.writes_gathered.set(1 if busy else 0)
        if self._log is not None:
            self._log.info("loop.busy" if busy else "loop.quiet", lag=round(self.lag, 4))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self._probe
            await asyncio.sleep(self._probe)  # the probe's period: its lateness is the reading
            self.observe(max(0.0, loop.time() - due))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="loop-load")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None
        if self.busy:
            self._switch(False)
