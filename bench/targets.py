"""The targets of issues 6 and 14, judged against a run's figures (never asserted).

Each target names the figure it reads (at the sizes the run used) and either a
baseline to divide by or an absolute bound. ``judge`` says met, missed, or
n/a with the reason (a figure is missing or was skipped).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.figures import Figure
from bench.sizes import Sizes

PRESENCE_SESSIONS = {"tiny": 200, "quick": 2_000, "full": 10_000}
"""Sessions of the ``presence-events`` figure at each size (the scenario reads it)."""
PRESENCE_CORE_EACH = "with a core each (projected)"
"""The ``presence-events`` metric: claims+events/s if every server process had a core
(requests over the busiest process's CPU seconds)."""

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
}


@dataclass(frozen=True, slots=True)
class Target:
    text: str
    scenario: str
    metric: str
    subject: str
    baseline: str | None
    op: str
    bound: float

    def judge(self, figures: Sequence[Figure]) -> dict[str, Any]:
        found = {(f.scenario, f.metric, f.system): f for f in figures}
        subject = found.get((self.scenario, self.metric, self.subject))
        verdict: dict[str, Any] = {"target": self.text, "verdict": "n/a", "value": None}
        verdict.update(op=self.op, bound=self.bound, ratio=self.baseline is not None)
        if subject is None or subject.value is None:
            verdict["why"] = (subject.skipped or "no value") if subject is not None else "not run"
            return verdict
        value = subject.value
        verdict.update(subject=self.subject, subject_value=subject.value, unit=subject.unit)
        if self.baseline is not None:
            base = found.get((self.scenario, self.metric, self.baseline))
            if base is None or base.value is None or base.value == 0:
                verdict["why"] = f"{self.baseline}: " + (
                    (base.skipped or "no value") if base is not None else "not run"
                )
                return verdict
            value = subject.value / base.value
            verdict.update(baseline=self.baseline, baseline_value=base.value)
        verdict["value"] = round(value, 3)
        verdict["verdict"] = "met" if _OPS[self.op](value, self.bound) else "missed"
        return verdict


def targets(sizes: Sizes) -> list[Target]:
    fan = f"fanout-{max(sizes.fanout_subscribers)}"
    lat_n = max(sizes.latency_subscribers)
    lat = f"latency-{lat_n}@{sizes.latency_deliveries // 1000}k/s"
    cap = f"capacity-{sizes.capacity_connections}"
    fail = f"failover-{max(sizes.failover_clients)}"
    rep = f"replay-{sizes.replay_messages}"
    storm = f"storm-{max(sizes.storm_clients)}"
    pres = f"presence-events-{PRESENCE_SESSIONS[sizes.name]}"
    d, cost = "delivered msg/s", "server CPU/msg"
    caught, mem, raw, off = "caught up max", "memory/conn", "raw-aiohttp", "haws-nopresence"
    p99, rate, ev, flap = "caught up p99", "connect rate", "claims+events/s", "presence flaps"
    each = PRESENCE_CORE_EACH
    return [
        Target(f"{fan}: haws >= 0.8x raw aiohttp", fan, d, "haws", "raw-aiohttp", ">=", 0.8),
        Target(f"{fan}: haws >= 5x python-socketio", fan, d, "haws", "python-socketio", ">=", 5.0),
        Target(f"{lat}: haws p99 <= 2x raw aiohttp", lat, "p99", "haws", "raw-aiohttp", "<=", 2.0),
        Target(f"{cap}: haws memory/conn <= 1.3x raw", cap, mem, "haws", raw, "<=", 1.3),
        Target(f"{fail}: last client caught up <= 2000 ms", fail, caught, "haws", None, "<=", 2000),
        Target(f"{fail}: nothing lost", fail, "lost", "haws", None, "<=", 0.0),
        Target(f"{rep}: haws >= 50,000 msg/s", rep, "replayed msg/s", "haws", None, ">=", 50_000),
        Target(f"{fan}: haws batch >= 1.0x raw", fan, d, "haws-batch", "raw-aiohttp", ">=", 1.0),
        # issue 14: the production configuration (presence on)
        Target(f"{storm}: conn/s, presence on >= 0.8x off", storm, rate, "haws", off, ">=", 0.8),
        Target(f"{storm}: conn/s, presence on >= 0.7x raw", storm, rate, "haws", raw, ">=", 0.7),
        Target(f"{pres}: >= 20,000 claims+events/s", pres, ev, "haws", None, ">=", 20_000),
        Target(f"{pres}: 2 replicas > 1 replica", pres, ev, "haws-presence2", "haws", ">", 1.0),
        Target(f"{pres}: 2 replicas > 1, a core each (projected)", pres, each, "haws-presence2",
               "haws", ">", 1.0),
        Target(f"{fail}: presence on, p99 caught up <= 3 s", fail, p99, "haws", None, "<=", 3000),
        Target(f"{fail}: presence on, lost 0", fail, "lost", "haws", None, "<=", 0.0),
        Target(f"{fail}: presence on, duplicates 0", fail, "duplicates", "haws", None, "<=", 0.0),
        Target(f"{fail}: presence on, no leave/join of resumed", fail, flap, "haws", None, "<=", 0),
        Target(f"{rep}: haws >= 150,000 msg/s", rep, "replayed msg/s", "haws", None, ">=", 150_000),
        Target(f"{fan}: server CPU/delivery <= 1.5x raw", fan, cost, "haws", raw, "<=", 1.5),
        Target(f"{cap}: presence on, memory/conn <= 1.3x raw", cap, mem, "haws", raw, "<=", 1.3),
    ]  # fmt: skip
