"""Run a haws service's ``run_*`` composition in the test's event loop, stopped in order.

The same composition as the ``haws <service>`` command, against real nats-server
and Consul processes; only the process boundary is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, Generic, TypeVar

from haws.common.tasks import stop_task

T = TypeVar("T")
RunFn = Callable[..., Coroutine[Any, Any, None]]


class RunningService(Generic[T]):
    def __init__(self, value: T, stop_event: asyncio.Event, task: asyncio.Task[None]) -> None:
        self.value = value
        self.stop_event = stop_event
        self.task = task

    async def stop(self, timeout: float = 15.0) -> None:
        """Ask for the ordered stop; past ``timeout``, cancel it and fail loudly.

        Not ``asyncio.timeout`` around ``await self.task``: cancelling the waiter
        only cancels the task once, and a task that survives that (a swallowed
        cancellation) would keep the teardown waiting until pytest-timeout.
        """
        self.stop_event.set()
        done, _ = await asyncio.wait({self.task}, timeout=timeout)
        if not done:
            await stop_task(self.task)
            raise TimeoutError(f"the service did not stop within {timeout} s")
        self.task.result()


@contextlib.asynccontextmanager
async def running_service(run: RunFn, settings: Any) -> AsyncIterator[RunningService[Any]]:
    """Start ``run(settings, stop, started=...)``; yields once ``started`` was called."""
    stop = asyncio.Event()
    ready: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run(settings, stop, started=ready.set_result))
    waiter = asyncio.ensure_future(ready)
    done, _ = await asyncio.wait({task, waiter}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if waiter not in done:
        waiter.cancel()
        stop.set()
        if task.done():
            task.result()  # raise the start-up error
        raise TimeoutError(f"{run.__name__} did not start")
    service = RunningService(ready.result(), stop, task)
    try:
        yield service
    finally:
        if not task.done():
            await service.stop()
