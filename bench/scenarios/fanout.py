"""Fan-out: N subscribers on one topic through one node, one publisher at the
highest rate every subscriber sustains. Figure: delivered msg/s (and lost).

Every system runs it: haws in JSON, with ``batch:true`` and in msgpack, and
the three baselines. With ``--profile`` a further haws pass at the largest N
runs under py-spy (its figures are not in the table: sampling costs CPU).
"""

from __future__ import annotations

from typing import Any

from bench.figures import Figure, role_of, why
from bench.lab import SYSTEMS, Lab, Profile
from bench.profiler import Recording
from bench.scenarios.traffic import (
    new_topic,
    run_window,
    setup_topic,
    teardown,
    throughput_figures,
)
from bench.systems import Running
from bench.usage import CpuMeter

NAME = "fanout"


def run(lab: Lab) -> list[Figure]:
    figures: list[Figure] = []
    for subscribers in lab.sizes.fanout_subscribers:
        scenario = f"{NAME}-{subscribers}"
        for system in SYSTEMS:
            if not lab.wants(system):
                continue
            print(f"  {scenario} {system} ...", flush=True)
            try:
                with lab.system(system) as target:
                    details = lab.run(_measure(lab, target, subscribers))
            except Exception as exc:  # reported in the table, the run goes on
                figures += throughput_figures(scenario, system, role_of(system), None, why(exc))
                continue
            figures += throughput_figures(scenario, system, role_of(system), details)
    if lab.options.profile:
        _profile(lab, max(lab.sizes.fanout_subscribers))
    return figures


async def _measure(
    lab: Lab, target: Running, subscribers: int, recording: Recording | None = None
) -> dict[str, Any]:
    topic = new_topic(NAME)
    load = await setup_topic(
        target.dialect, topic, subscribers, [target.url], target.url, lab.sizes
    )
    try:
        meter = CpuMeter(target.server_pids())
        if recording is not None:
            recording.start(lab.sizes.warmup, lab.sizes.window)
        return await run_window([load], meter, lab.sizes)
    finally:
        await teardown([load])


def _profile(lab: Lab, subscribers: int) -> None:
    scenario = f"{NAME}-{subscribers}"
    print(f"  {scenario} haws under py-spy ...", flush=True)
    try:
        with lab.system("haws") as target:
            recording = Recording(target.rss_pid, lab.data_dir / "profile-fanout")
            details = lab.run(_measure(lab, target, subscribers, recording))
            summary = recording.finish()
    except Exception as exc:  # reported in the table, the run goes on
        lab.profiles.append(Profile(scenario, "haws", {"skipped": why(exc)}))
        return
    summary["run"] = {k: details[k] for k in ("delivered_per_s", "server_cpu", "loadgen_cpu")}
    lab.profiles.append(Profile(scenario, "haws", summary))
