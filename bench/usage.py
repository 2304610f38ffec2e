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


def core_busy() -> dict[str, tuple[float, float, float]]:
    """Per ``/proc/stat`` line (``cpu`` = all cores, ``cpu0``, ``cpu1``...): CPU seconds
    since boot spent in processes (user, system), in interrupts (the loopback
    traffic's own softirq work lands here), and stolen by the hypervisor."""
    out: dict[str, tuple[float, float, float]] = {}
    try:
        with open("/proc/stat", "rb") as f:
            for line in f:
                if not line.startswith(b"cpu"):
                    break
                fields = line.split()
                user, nice, system, _idle, _io, irq, softirq, steal = map(int, fields[1:9])
                out[fields[0].decode()] = (
                    (user + nice + system) / _TICK,
                    (irq + softirq) / _TICK,
                    steal / _TICK,
                )
    except OSError:
        pass
    return out


def machine_busy() -> float:
    """CPU seconds the whole machine's processes used since boot."""
    return core_busy().get("cpu", (0.0, 0.0, 0.0))[0]


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
    cores: dict[str, tuple[float, float, float]]


@dataclass(frozen=True, slots=True)
class Usage:
    """CPU shares over a window, 1.0 = one core busy all the time."""

    seconds: float
    loadgen: float
    server: float
    other: float
    """CPU of processes not ours (another session's tests, a build): noise."""
    other_on_server_core: float
    """The part of ``other`` on the server core: what the servers competed with."""
    irq: float
    """Interrupt work (mostly the loopback traffic itself), all cores."""
    steal: float
    """CPU the hypervisor gave to other guests while we wanted it."""

    def details(self) -> dict[str, object]:
        """The shares as a figure's details report them."""
        return {
            "loadgen_cpu": round(self.loadgen, 2),
            "server_cpu": round(self.server, 2),
            "other_cpu": round(self.other, 2),
            "other_on_server_core": round(self.other_on_server_core, 2),
            "irq": round(self.irq, 2),
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

    def __init__(self, server_pids: Iterable[int], server_core: int = 0) -> None:
        self.server_pids = list(server_pids)
        self.server_core = f"cpu{server_core}"

    def sample(self) -> Sample:
        return Sample(
            wall=time.monotonic(),
            own_cpu=time.process_time(),
            server_cpu=sum(cpu_seconds(pid) for pid in self.server_pids),
            cores=core_busy(),
        )

    def between(self, start: Sample, end: Sample) -> Usage:
        seconds = max(end.wall - start.wall, 1e-9)
        loadgen = (end.own_cpu - start.own_cpu) / seconds

        def busy(core: str, index: int) -> float:
            after, before = end.cores.get(core), start.cores.get(core)
            if after is None or before is None:
                return 0.0
            return (after[index] - before[index]) / seconds

        server = (end.server_cpu - start.server_cpu) / seconds
        return Usage(
            seconds=seconds,
            loadgen=loadgen,
            server=server,
            other=max(0.0, busy("cpu", 0) - loadgen - server),
            other_on_server_core=max(0.0, busy(self.server_core, 0) - server),
            irq=busy("cpu", 1),
            steal=busy("cpu", 2),
        )
