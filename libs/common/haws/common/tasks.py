"""Stopping a task its owner started, reliably and in bounded time.

On Python 3.11 ``asyncio.wait_for`` (used inside nats-py requests) can swallow a
cancellation that lands just as its inner future completes; a ``while True``
loop then goes on and ``await task`` never returns. So the owner cancels again
until the task is done, under a deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from haws.common.logs import get_logger

_log = get_logger("tasks")


async def stop_tasks(tasks: Iterable[asyncio.Task[Any]], timeout: float = 5.0) -> None:
    pending = {t for t in tasks if not t.done()}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=min(0.5, deadline - loop.time()))
        if loop.time() >= deadline:
            break
    for task in pending:
        _log.error("task.would_not_stop", task=task.get_name())


async def stop_task(task: asyncio.Task[Any] | None, timeout: float = 5.0) -> None:
    if task is not None:
        await stop_tasks([task], timeout)
