"""CPU seconds and RSS of each part of a haws stack, one named group of pids each.

The capacity model needs the cost of a hello, a resume or a delivery split by
part (gateway, nats-server, presence, replay, Consul): ``CpuMeter`` sums them
all, this keeps them apart. Background work (heartbeats, Consul TTL checks, the
canary) is measured at rest first and subtracted, so a per-unit figure is the
work the unit caused.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bench.systems.haws import HawsStack
from bench.usage import cpu_seconds, rss_kib

PARTS = ("gateway", "nats-server", "presence", "replay", "consul")
"""Every part a costs figure names, in the order the table prints them."""
OTHER_GATEWAYS = "other gateways"
"""The stack's gateways after the first (the clients' own is ``gateway``)."""


def stack_parts(stack: HawsStack) -> dict[str, list[int]]:
    """The pids of each part of ``stack`` and its shared infra."""
    parts: dict[str, list[int]] = {name: [] for name in (*PARTS, OTHER_GATEWAYS)}
    pids = [g.pid for g in stack.gateways if g.pid is not None]
    parts["gateway"], parts[OTHER_GATEWAYS] = pids[:1], pids[1:]
    for backend in stack.backends:
        kind = backend.name.split("-", 1)[0]
        if kind in parts and backend.pid is not None:
            parts[kind].append(backend.pid)
    infra = stack.infra
    parts["nats-server"] = [infra.nats.pid] if infra.nats.pid is not None else []
    parts["consul"] = [infra.consul.pid] if infra.consul.pid is not None else []
    return parts


@dataclass(frozen=True, slots=True)
class PartSample:
    wall: float
    loadgen: float
    """The load generator's (this process's) CPU seconds."""
    cpu: Mapping[str, float]
    rss: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class PartUsage:
    seconds: float
    loadgen: float
    """CPU seconds of the load generator over the window."""
    cpu: Mapping[str, float]
    """CPU seconds per part over the window, the idle rate's share taken off."""

    def per_unit_us(self, units: int) -> dict[str, float]:
        """Microseconds of CPU each part spent per unit (a hello, a delivery...)."""
        n = max(1, units)
        return {part: seconds / n * 1e6 for part, seconds in self.cpu.items()}

    def shares(self) -> dict[str, float]:
        """Each part's CPU as a share of one core over the window."""
        return {part: round(s / self.seconds, 3) for part, s in self.cpu.items()}


class PartMeter:
    """Samples each part; ``between`` gives CPU seconds per part net of idle."""

    def __init__(self, parts: Mapping[str, Sequence[int]]) -> None:
        self.parts = {name: list(pids) for name, pids in parts.items()}
        self.idle: dict[str, float] = {name: 0.0 for name in self.parts}
        """CPU share per part at rest (``calibrate``), subtracted from every window."""

    def sample(self) -> PartSample:
        return PartSample(
            wall=time.monotonic(),
            loadgen=time.process_time(),
            cpu={n: sum(cpu_seconds(p) for p in pids) for n, pids in self.parts.items()},
            rss={n: sum(rss_kib(p) for p in pids) for n, pids in self.parts.items()},
        )

    def calibrate(self, start: PartSample, end: PartSample) -> None:
        """Record the idle rate of each part from a window in which nothing happened."""
        seconds = max(end.wall - start.wall, 1e-9)
        self.idle = {n: max(0.0, (end.cpu[n] - start.cpu[n]) / seconds) for n in self.parts}

    def quiet(self, start: PartSample, end: PartSample, margin: float) -> bool:
        """True if no part used more than its idle rate plus ``margin`` (of a core)."""
        seconds = max(end.wall - start.wall, 1e-9)
        return all(
            (end.cpu[n] - start.cpu[n]) / seconds <= self.idle[n] + margin for n in self.parts
        )

    def between(self, start: PartSample, end: PartSample) -> PartUsage:
        seconds = max(end.wall - start.wall, 1e-9)
        cpu = {n: max(0.0, end.cpu[n] - start.cpu[n] - self.idle[n] * seconds) for n in self.parts}
        return PartUsage(seconds, end.loadgen - start.loadgen, cpu)


def rss_growth_kib(start: PartSample, end: PartSample, units: int) -> dict[str, float]:
    """KiB of RSS each part grew by per unit (a connection, a session)."""
    n = max(1, units)
    return {part: (end.rss[part] - start.rss[part]) / n for part in start.rss}


class CpuSplit:
    """One window of a ``PartMeter`` over processes named by what they are.

    For scenarios with no rest to calibrate against (a storm, a failover): the
    window opens at construction and closes at ``stop``; a process gone by then
    counts nothing past its last reading.
    """

    def __init__(self, pids: Sequence[int], names: Mapping[int, str] | None = None) -> None:
        named = names or {}
        parts: dict[str, list[int]] = {}
        for pid in pids:
            parts.setdefault(named.get(pid) or process_name(pid), []).append(pid)
        self._meter = PartMeter(parts)
        self._start = self._meter.sample()
        self._end: PartSample | None = None

    def stop(self) -> None:
        self._end = self._meter.sample()

    def per_unit(self, units: int) -> dict[str, float]:
        """CPU microseconds per unit of work, by process name, and their ``total``."""
        end = self._end if self._end is not None else self._start
        costs = self._meter.between(self._start, end).per_unit_us(units)
        out = {name: round(us, 3) for name, us in costs.items()}
        out["total"] = round(sum(out.values()), 3)
        return out


KNOWN = ("presence", "replay", "gateway")
"""Words of a command line that name a haws service."""


def process_name(pid: int) -> str:
    """What the process is: its command line's telling word (presence, nats-server...)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return str(pid)
    words = [a.decode(errors="replace").rsplit("/", 1)[-1] for a in argv if a]
    for word in words:
        if word in KNOWN or word.startswith(("nats-server", "consul")):
            return word
    return words[0] if words else str(pid)
