"""``haws gateway``: settings from flags and ``HAWS_*``, signals, then ``run_gateway``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Sequence

from haws.common.logs import setup_logging
from haws.common.settings import SettingsError, load
from haws.gateway.node import run_gateway
from haws.gateway.settings import GatewaySettings


async def _serve(settings: GatewaySettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await asyncio.wait_for(_until_stopped(settings, stop), None)


async def _until_stopped(settings: GatewaySettings, stop: asyncio.Event) -> None:
    task = asyncio.create_task(run_gateway(settings, stop))
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if not task.done():
        # Ordered shutdown inside run_gateway, bounded by the drain timeout.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(task, settings.drain_timeout)
    else:
        stopped.cancel()
        task.result()


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = load(GatewaySettings, os.environ, list(argv or []), prog="haws gateway")
    except SettingsError as exc:
        print(f"haws gateway: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    try:
        asyncio.run(_serve(settings))
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
