"""Interest: a node receives only the topics its clients want.

N gateways (``interest_gateways``: 1, 2, 4), each with its own topic: its
subscribers and its publisher sit on it alone, so no two gateways share an
interest. Every topic gets ``interest_rate`` msg/s for one window. Figure:
bytes per second the nats-server sent to each gateway's NATS connection (its
``out_bytes`` in ``/connz``, matched by the connection name ``haws-gateway
<node>``), the mean over the gateways and the largest. If a node received
every topic, the figure would grow with N; with subject-filtered
subscriptions it stays flat (the ``haws-Ngw/this`` ratio near 1.0x).
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from bench.figures import Figure, Role, why
from bench.lab import HAWS_DIALECTS, Lab
from bench.scenarios.traffic import TopicLoad, drain, new_topic, setup_topic, teardown
from bench.systems.haws import HawsStack

NAME = "interest"
METRICS = (("NATS in/gateway mean", "mean"), ("NATS in/gateway max", "max"))


def run(lab: Lab) -> list[Figure]:
    if not lab.wants("haws"):
        return []
    figures: list[Figure] = []
    largest = max(lab.sizes.interest_gateways)
    for n in lab.sizes.interest_gateways:
        system = f"haws-{n}gw"
        role: Role = "subject" if n == largest else "baseline"
        print(f"  {NAME} {system} ...", flush=True)
        try:
            with lab.haws(gateways=n) as stack:
                details = lab.run(_measure(lab, stack))
        except Exception as exc:  # reported in the table, the run goes on
            figures += [
                Figure(NAME, m, system, None, "B/s", "lower", role, skipped=why(exc))
                for m, _ in METRICS
            ]
            continue
        figures += [
            Figure(NAME, m, system, details[f"{key}_bytes_per_s"], "B/s", "lower", role,
                   details=details)
            for m, key in METRICS
        ]  # fmt: skip
    return figures


async def _out_bytes(monitor_url: str, nodes: list[str]) -> dict[str, int]:
    """Bytes the server has sent to each gateway's NATS connection so far."""
    timeout = aiohttp.ClientTimeout(total=5.0)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.get(f"{monitor_url}/connz", params={"limit": "4096"}) as response,
    ):
        body = await response.json()
    by_name = {c.get("name", ""): int(c.get("out_bytes", 0)) for c in body["connections"]}
    return {node: by_name.get(f"haws-gateway {node}", 0) for node in nodes}


async def _measure(lab: Lab, stack: HawsStack) -> dict[str, Any]:
    sizes = lab.sizes
    dialect = HAWS_DIALECTS["haws"]
    urls = stack.gateway_urls()
    nodes = [g.name for g in stack.gateways]
    monitor = stack.infra.nats.monitor_url
    loads: list[TopicLoad] = []
    try:
        for url in urls:
            loads.append(
                await setup_topic(
                    dialect, new_topic(NAME), sizes.interest_subscribers, [url], url, sizes
                )
            )
        before = await _out_bytes(monitor, nodes)
        loop = asyncio.get_running_loop()
        began = loop.time()
        until = began + sizes.window
        await asyncio.gather(
            *(
                load.publisher.run_rate(
                    sizes.interest_rate, until=until, max_messages=sizes.max_messages
                )
                for load in loads
            )
        )
        await drain(loads, sizes.drain_timeout)
        seconds = loop.time() - began
        after = await _out_bytes(monitor, nodes)
    finally:
        await teardown(loads)
    rates = [(after[n] - before[n]) / seconds for n in nodes]
    return {
        "gateways": len(nodes),
        "topic_rate": sizes.interest_rate,
        "subscribers_per_gateway": sizes.interest_subscribers,
        "seconds": round(seconds, 2),
        "bytes_per_s_by_gateway": [round(r) for r in rates],
        "mean_bytes_per_s": sum(rates) / len(rates),
        "max_bytes_per_s": max(rates),
    }
