"""Capacity: 5,000 idle connections to one node. Figures: KiB of server RSS per
connection, connections opened per second, and the WebSocket process's CPU
while they sit idle (timers per connection or per round show up there).

A connection counts once its greeting is done (haws and raw: ``hello`` ->
``welcome``; socket.io: engine.io open -> namespace connected); it subscribes
to nothing. RSS is ``VmRSS`` of the WebSocket process, read after the server
settled before the first connection and again once all are open; its idle CPU
is read over the ``IDLE`` seconds after that.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.figures import Figure, role_of, skipped, why
from bench.lab import SYSTEMS, Lab
from bench.loadgen.crowd import close_all, open_all
from bench.loadgen.peer import Peer
from bench.systems import Running
from bench.usage import CpuMeter, cpu_seconds, rss_kib

NAME = "capacity"
SYSTEMS_MEASURED = ("haws", "haws-nopresence", "raw-aiohttp", "python-socketio", "node-socketio")
SETTLE = 1.0
IDLE = 5.0
"""Seconds the open connections sit idle while the WebSocket process's CPU is read."""


class TooFewConnections(Exception):
    pass


def run(lab: Lab) -> list[Figure]:
    figures: list[Figure] = []
    n = lab.sizes.capacity_connections
    scenario = f"{NAME}-{n}"
    for system in SYSTEMS:
        if system not in SYSTEMS_MEASURED or not lab.wants(system):
            continue
        print(f"  {scenario} {system} ...", flush=True)
        role = role_of(system)
        try:
            with lab.system(system) as target:
                details = lab.run(_measure(lab, target, n))
        except Exception as exc:  # reported in the table, the run goes on
            reason = why(exc)
            figures.append(
                skipped(scenario, "memory/conn", system, "KiB", reason, role=role, better="lower")
            )
            figures.append(
                skipped(
                    scenario, "connect rate", system, "conn/s", reason, role=role, better="higher"
                )
            )
            figures.append(
                skipped(scenario, "idle CPU", system, "%", reason, role=role, better="lower")
            )
            continue
        figures.append(
            Figure(scenario, "memory/conn", system, details["kib_per_connection"], "KiB",
                   better="lower", role=role, details=details)
        )  # fmt: skip
        figures.append(
            Figure(scenario, "connect rate", system, details["connections_per_s"], "conn/s",
                   role=role, details=details)
        )  # fmt: skip
        figures.append(
            Figure(scenario, "idle CPU", system, details["idle_cpu_percent"], "%",
                   better="lower", role=role, details=details)
        )  # fmt: skip
    return figures


async def _measure(lab: Lab, target: Running, n: int) -> dict[str, Any]:
    await asyncio.sleep(SETTLE)
    before = rss_kib(target.rss_pid)
    meter = CpuMeter(target.server_pids())
    peers = [Peer(target.dialect) for _ in range(n)]
    start = meter.sample()
    try:
        opened = await open_all(peers, [target.url], concurrency=lab.sizes.connect_concurrency)
        end = meter.sample()
        if opened.failed > n // 100:
            raise TooFewConnections(f"{opened.failed} of {n} failed: {opened.first_error}")
        await asyncio.sleep(SETTLE * 2)
        after = rss_kib(target.rss_pid)
        idle_wall, idle_cpu = time.monotonic(), cpu_seconds(target.rss_pid)
        await asyncio.sleep(IDLE)
        idle = (cpu_seconds(target.rss_pid) - idle_cpu) / (time.monotonic() - idle_wall)
    finally:
        await close_all(peers)
    usage = meter.between(start, end)
    ok = n - opened.failed
    return {
        "kib_per_connection": (after - before) / ok,
        "connections_per_s": ok / opened.seconds,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "connections": ok,
        "failed": opened.failed,
        "idle_cpu_percent": round(idle * 100, 2),
        **usage.details(),
    }
