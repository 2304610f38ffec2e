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
