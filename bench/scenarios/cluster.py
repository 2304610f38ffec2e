"""Cluster: 3 gateways, publishers and subscribers spread over them, then the
same clients on 1 gateway. Figure: delivered msg/s, 3 gateways vs 1.

``cluster_topics`` topics share ``cluster_subscribers`` subscribers; each
topic's subscribers are spread round-robin over the gateways and its publisher
sits on its own gateway, so most messages cross nodes through NATS. All
gateways run on the one server core: on this machine the figure shows what
spreading costs (every node decodes and encodes each message of the topics it
serves), not how far haws scales out with more machines.
"""

from __future__ import annotations

from typing import Any

from bench.figures import NO_PRESENCE, Figure, Role, why
from bench.lab import HAWS_DIALECTS, Lab
from bench.scenarios.traffic import (
    TopicLoad,
    new_topic,
    run_window,
    setup_topic,
    teardown,
    throughput_figures,
)
from bench.usage import CpuMeter

NAME = "cluster"


def run(lab: Lab) -> list[Figure]:
    sizes = lab.sizes
    scenario = f"{NAME}-{sizes.cluster_subscribers}x{sizes.cluster_topics}"
    figures: list[Figure] = []
    runs = [
        (f"haws-{gateways}gw{suffix}", gateways, presence)
        for gateways in (sizes.cluster_gateways, 1)
        for suffix, presence in (("", True), (NO_PRESENCE, False))
        if lab.wants("haws" + suffix)
    ]
    for system, gateways, presence in runs:
        role: Role = "subject" if gateways > 1 else "baseline"
        print(f"  {scenario} {system} ...", flush=True)
        try:
            with lab.haws(gateways=gateways, presence=presence) as stack:
                details = lab.run(_measure(lab, stack))
        except Exception as exc:  # reported in the table, the run goes on
            figures += throughput_figures(scenario, system, role, None, why(exc))
            continue
        figures += throughput_figures(scenario, system, role, details)
    return figures


async def _measure(lab: Lab, stack: Any) -> dict[str, Any]:
    sizes = lab.sizes
    dialect = HAWS_DIALECTS["haws"]
    urls = [f"ws://127.0.0.1:{g.port}" for g in stack.gateways]
    per_topic = sizes.cluster_subscribers // sizes.cluster_topics
    loads: list[TopicLoad] = []
    try:
        for i in range(sizes.cluster_topics):
            spread = urls[i % len(urls) :] + urls[: i % len(urls)]
            loads.append(
                await setup_topic(
                    dialect, new_topic(NAME), per_topic, spread, urls[i % len(urls)], sizes
                )
            )
        details = await run_window(loads, CpuMeter(stack.pids()), sizes)
    finally:
        await teardown(loads)
    details["gateways"] = len(urls)
    return details
