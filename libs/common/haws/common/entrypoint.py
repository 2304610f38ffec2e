"""What every ``haws <service>`` command does around its ``run`` coroutine.

Read settings (flags over ``HAWS_*``), set up JSON logs, prefer uvloop, tune
the garbage collector, turn SIGTERM/SIGINT into the stop event, and bound the
ordered shutdown in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from haws.common.logs import setup_logging
from haws.common.settings import SettingsError, load
from haws.common.telemetry import setup_tracing

S = TypeVar("S")
Run = Callable[[S, asyncio.Event], Coroutine[Any, Any, None]]


async def _serve(run: Run[S], settings: S, stop_timeout: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.create_task(run(settings, stop))
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        stopped.cancel()
        task.result()  # a start-up failure exits non-zero with its traceback
        return
    # The ordered shutdown runs inside ``run``; it gets ``stop_timeout`` at most,
    # then it is cancelled (a start-up still waiting for NATS ends here too).
    done, _ = await asyncio.wait({task}, timeout=stop_timeout)
    if not done:
        task.cancel()
        await asyncio.wait({task}, timeout=2.0)
    elif not task.cancelled() and task.exception() is not None:
        task.result()


def tune_gc(threshold: int) -> None:
    """Collect the young generation every ``threshold`` allocations (0: Python's 700),
    and keep what is loaded at start-up out of the collector's passes.

    A node with thousands of connections holds millions of objects, and asyncio
    and aiohttp make cycles of many of them; at Python's default the collector
    ran hundreds of times a second during a reconnect storm, and its full
    collections (each >100 ms there) stalled every client on the node. The
    modules, classes and functions loaded by now live as long as the process:
    frozen, a full pass no longer walks them.
    """
    if threshold > 0:
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(threshold, older, oldest)
        gc.collect()
        gc.freeze()


def service_main(
    cls: type[S],
    run: Run[S],
    argv: Sequence[str] | None,
    *,
    prog: str,
    stop_timeout: Callable[[S], float] = lambda _: 10.0,
) -> int:
    try:
        settings = load(cls, os.environ, list(argv or []), prog=prog)
    except SettingsError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    level: Any = getattr(settings, "log_level", "info")
    setup_logging(level)
    setup_tracing(prog.split()[-1], getattr(settings, "trace_exporter", "none"))
    tune_gc(getattr(settings, "gc_threshold", 0))
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(run, settings, stop_timeout(settings)))
    return 0
