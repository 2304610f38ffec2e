"""Latency: the fan-out set-up at a fixed 20,000 deliveries/s (publish rate =
20,000 / subscribers). Figures: p50 and p99 publish->deliver in ms.

The publisher puts ``time.monotonic_ns()`` in ``data.t`` as it writes the pub;
a subscriber subtracts it from the arrival time of the chunk that carried the
message (same process, same clock). haws' figure includes the JetStream store
and republish; the baselines fan out in process.
"""

from __future__ import annotations

from typing import Any

from bench.figures import Figure, role_of, skipped, why
from bench.lab import SYSTEMS, Lab
from bench.loadgen.tally import Latencies
from bench.scenarios.traffic import new_topic, run_window, setup_topic, teardown
from bench.systems import Running
from bench.usage import CpuMeter

NAME = "latency"
SYSTEMS_MEASURED = (
    "haws",
    "haws-nopresence",
    "haws-batch",
    "raw-aiohttp",
    "python-socketio",
    "node-socketio",
)


def run(lab: Lab) -> list[Figure]:
    figures: list[Figure] = []
    rate_total = lab.sizes.latency_deliveries
    for subscribers in lab.sizes.latency_subscribers:
        scenario = f"{NAME}-{subscribers}@{rate_total // 1000}k/s"
        for system in SYSTEMS:
            if system not in SYSTEMS_MEASURED or not lab.wants(system):
                continue
            print(f"  {scenario} {system} ...", flush=True)
            role = role_of(system)
            try:
                with lab.system(system) as target:
                    details = lab.run(_measure(lab, target, subscribers, rate_total / subscribers))
            except Exception as exc:  # reported in the table, the run goes on
                for metric in ("p50", "p99"):
                    figures.append(
                        skipped(scenario, metric, system, "ms", why(exc), role=role, better="lower")
                    )
                continue
            for metric in ("p50", "p99"):
                figures.append(
                    Figure(
                        scenario,
                        metric,
                        system,
                        details["latency_ms"][metric],
                        "ms",
                        better="lower",
                        role=role,
                        details=details,
                    )
                )
    return figures


async def _measure(lab: Lab, target: Running, subscribers: int, rate: float) -> dict[str, Any]:
    sizes = lab.sizes
    load = await setup_topic(
        target.dialect, new_topic(NAME), subscribers, [target.url], target.url, sizes
    )
    latencies = Latencies()
    try:
        details = await run_window(
            [load], CpuMeter(target.server_pids()), sizes, rate=rate, latencies=latencies
        )
    finally:
        await teardown([load])
    details["publish_rate"] = rate
    details["latency_ms"] = {k: round(v, 3) for k, v in latencies.summary_ms().items()}
    return details
