"""CPU time and memory of processes, read from ``/proc``; the generator's own CPU.

A figure is only worth its bottleneck: each measurement window records the
server processes' CPU and the load generator's, as a share of one core, so the
table can say which side was saturated.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of ``pid`` (all its threads); 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return 0.0
    fields = stat[stat.rfind(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def machine_busy() -> tuple[float, float]:
    """CPU seconds the whole machine spent busy (user, system, interrupts) and stolen
    by the hypervisor, over all cores, since boot."""
    try:
        with open("/proc/stat", "rb") as f:
            fields = f.readline().split()
    except OSError:
        return 0.0, 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[1:9])
    return (user + nice + system + irq + softirq) / _TICK, steal / _TICK


def rss_kib(pid: int) -> int:
    """Resident set size (``VmRSS``) of ``pid`` in KiB; 0 when unknown."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass(frozen=True, slots=True)
class Sample:
    wall: float
    own_cpu: float
    server_cpu: float
    machine_cpu: float
    steal: float


@dataclass(frozen=True, slots=True)
class Usage:
    """CPU shares over a window, 1.0 = one core busy all the time."""

    seconds: float
    loadgen: float
    server: float
    other: float
    """Busy CPU not ours (other processes, interrupts), 1.0 = one core: noise."""
    steal: float
    """CPU the hypervisor gave to other guests while we wanted it."""

    def details(self) -> dict[str, object]:
        """The shares as a figure's details report them."""
        return {
            "loadgen_cpu": round(self.loadgen, 2),
            "server_cpu": round(self.server, 2),
            "other_cpu": round(self.other, 2),
            "steal": round(self.steal, 2),
            "bottleneck": self.bottleneck(),
        }

    def bottleneck(self) -> str:
        """Which side looks saturated: ``server``, ``loadgen``, or ``neither``."""
        if self.loadgen >= 0.9 and self.loadgen >= self.server:
            return "loadgen"
        if self.server >= 0.9:
            return "server"
        return "neither"


class CpuMeter:
    """Samples the generator's and the servers' CPU; ``between`` gives the shares."""

    def __init__(self, server_pids: Iterable[int]) -> None:
        self.server_pids = list(server_pids)

    def sample(self) -> Sample:
        busy, steal = machine_busy()
        return Sample(
            wall=time.monotonic(),
            own_cpu=time.process_time(),
            server_cpu=sum(cpu_seconds(pid) for pid in self.server_pids),
            machine_cpu=busy,
            steal=steal,
        )

    @staticmethod
    def between(start: Sample, end: Sample) -> Usage:
        seconds = max(end.wall - start.wall, 1e-9)
        loadgen = (end.own_cpu - start.own_cpu) / seconds
        server = (end.server_cpu - start.server_cpu) / seconds
        machine = (end.machine_cpu - start.machine_cpu) / seconds
        return Usage(
            seconds=seconds,
            loadgen=loadgen,
            server=server,
            other=max(0.0, machine - loadgen - server),
            steal=(end.steal - start.steal) / seconds,
        )
