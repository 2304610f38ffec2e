"""The machine a run happens on, and how the run divides it.

Servers go to one core and the load generator to another, so neither steals the
other's CPU and the figures say which one was the limit. Pinning uses
``taskset -a -p`` on server pids (every thread) when it exists, else
``os.sched_setaffinity`` per thread; with fewer than two CPUs nothing is pinned
and the report says so.
"""

from __future__ import annotations

import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

SERVER_CORE = 0
LOADGEN_CORE = 1
SPEED_STEPS = 1_000_000
"""Steps of the fixed loop ``speed_ms`` times."""


def speed_ms(rounds: int = 3, steps: int = SPEED_STEPS) -> float:
    """Best of ``rounds`` timings, in ms, of one fixed pure-Python loop.

    The same VM size is not the same machine from one day to the next: raw
    aiohttp's storm-5000 read 3,443 conn/s in one run and 1,276 in another a
    day later, with nothing in haws changed. Every figure of a run scales with
    this one number, so it goes in the header and the results file: two runs'
    absolute figures compare only next to their speeds (their ratios within a
    run do not need it)."""
    best = math.inf
    for _ in range(rounds):
        started = time.perf_counter()
        total = 0
        for i in range(steps):
            total += i & 7
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def raise_nofile(wanted: int = 65536) -> int:
    """Raise the open-file limit (inherited by every server started after) to
    ``wanted`` or the hard limit; returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft
        return target
    return soft


@dataclass
class Machine:
    nproc: int
    cpu: str
    python: str
    platform: str
    usable: int = 1
    """CPUs this process may use before it pins itself."""
    nofile: int = 0
    pinning: str = ""
    speed_ms: float = 0.0
    """``speed_ms()`` on the load generator's core once pinned (0: not measured)."""
    notes: list[str] = field(default_factory=list)

    @classmethod
    def detect(cls) -> Machine:
        return cls(
            nproc=os.cpu_count() or 1,
            cpu=cpu_model(),
            python=sys.version.split()[0],
            platform=platform.platform(),
            usable=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1,
        )

    @property
    def can_pin(self) -> bool:
        return hasattr(os, "sched_setaffinity") and self.usable >= 2

    def prepare(self) -> None:
        """Pin this process (the load generator) and raise the file limit."""
        self.nofile = raise_nofile()
        if self.can_pin:
            os.sched_setaffinity(0, {LOADGEN_CORE})
            tool = "taskset" if shutil.which("taskset") else "sched_setaffinity"
            self.pinning = (
                f"servers on core {SERVER_CORE} ({tool}), load generator on core {LOADGEN_CORE}"
            )
        else:
            self.pinning = "none (fewer than 2 CPUs available)"
            self.notes.append("no pinning: servers and load generator share the CPU")
        self.speed_ms = speed_ms()

    def pin_server(self, pid: int | None) -> None:
        """Move every thread of ``pid`` to the server core."""
        if pid is None or not self.can_pin:
            return
        if shutil.which("taskset"):
            done = subprocess.run(
                ["taskset", "-a", "-p", "-c", str(SERVER_CORE), str(pid)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
            if done.returncode == 0:
                return
        try:
            tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        except OSError:
            return
        for tid in tids:
            try:
                os.sched_setaffinity(tid, {SERVER_CORE})
            except OSError:
                continue

    def describe(self) -> dict[str, Any]:
        return asdict(self)
