"""A real gateway in the test's event loop, on a free port, stopped in order.

It runs the same ``run_gateway`` composition as ``haws gateway`` against real
nats-server and Consul processes; only the process boundary is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

from haws.gateway.deps import GatewayDeps
from haws.gateway.node import run_gateway
from haws.gateway.settings import GatewaySettings


@dataclasses.dataclass
class RunningGateway:
    deps: GatewayDeps
    stop_event: asyncio.Event
    task: asyncio.Task[None]

    @property
    def url(self) -> str:
        s = self.deps.settings
        return f"ws://{s.host}:{s.port}/ws"

    @property
    def http(self) -> str:
        s = self.deps.settings
        return f"http://{s.host}:{s.port}"

    async def stop(self, timeout: float = 15.0) -> None:
        self.stop_event.set()
        async with asyncio.timeout(timeout):
            await self.task


def gateway_settings(nats_url: str, consul_http: str, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "nats_url": (nats_url,),
        "consul_http": consul_http,
        "port": 0,
        "host": "127.0.0.1",
        "consul_ttl": 2.0,
        "drain_period": 0.5,
        "drain_timeout": 5.0,
    }
    values.update(overrides)
    return GatewaySettings(**values)


@contextlib.asynccontextmanager
async def running_gateway(settings: GatewaySettings) -> AsyncIterator[RunningGateway]:
    stop = asyncio.Event()
    ready: asyncio.Future[GatewayDeps] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run_gateway(settings, stop, started=ready.set_result))
    waiter = asyncio.ensure_future(ready)
    done, _ = await asyncio.wait({task, waiter}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if waiter not in done:
        waiter.cancel()
        stop.set()
        if task.done():
            task.result()  # raise the start-up error
        raise TimeoutError("gateway did not start")
    gateway = RunningGateway(ready.result(), stop, task)
    try:
        yield gateway
    finally:
        if not task.done():
            await gateway.stop()
