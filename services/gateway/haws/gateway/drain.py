"""Graceful drain on SIGTERM: leave Consul, then move clients away gently.

Each client gets ``reconnect`` (``drain``) and a 4000 close, spread evenly over
the drain period so the other nodes are not hit by one reconnect storm; the
``delay`` tells each client how long to wait before it reconnects.
"""

from __future__ import annotations

import asyncio
import random

from haws.common import frames
from haws.gateway.deps import GatewayDeps
from haws.protocol.errors import CloseCode

RECONNECT_JITTER_MS = 1000


async def drain_connections(deps: GatewayDeps, period: float, timeout: float) -> int:
    """Ask every client to move within ``period``; wait for them up to ``timeout``."""
    deps.state.draining = True
    conns = list(deps.hub.connections)
    deps.log.info("drain.start", connections=len(conns), period=period)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    step = period / len(conns) if conns else 0.0
    for i, conn in enumerate(conns):
        if i and step:
            await asyncio.sleep(step)
        if not conn.closing:
            delay_ms = random.randint(0, RECONNECT_JITTER_MS)
            conn.send_obj(frames.reconnect("drain", delay_ms))
            conn.close(CloseCode.DRAINED, "node draining")
    pending = [asyncio.ensure_future(c.wait_closed()) for c in conns]
    if pending:
        _, still = await asyncio.wait(pending, timeout=max(0.1, deadline - loop.time()))
        for fut in still:
            fut.cancel()
        await asyncio.gather(*still, return_exceptions=True)
    deps.log.info("drain.done", remaining=len(deps.hub.connections))
    return len(conns)
