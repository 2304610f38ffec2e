"""Interest: a node receives only the topics its clients want.

N gateways (``interest_gateways``: 1, 2, 4, 8 at full size), each with its own
topic: its subscribers and its publisher sit on it alone, so no two gateways
share an interest. Every topic gets ``interest_rate`` msg/s for one window.
Figure: bytes per second the nats-server sent to each gateway's NATS
connection, i.e. what the gateway received from NATS (``out_bytes`` of the
server's ``/connz`` entry for the connection named ``haws-gateway <node>``: the
gateway's one NATS connection), the mean over the gateways and the largest.
If a node received every topic, the figure would grow with N; with
subject-filtered subscriptions it stays flat (the ``haws-Ngw/this`` ratio near
1.0x). The details also give messages received per message published on the
gateway's own topic (flat near 2: the topic's republished message and the
publish's ack; N+1 if it received every topic), the total over all gateways,
and the background bytes per second (heartbeats, canary) measured over a
window at rest, before publishing.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from bench.figures import Figure, Role, why
from bench.lab import HAWS_DIALECTS, Lab
from bench.scenarios.traffic import (
    TopicLoad,
    accounting,
    drain,
    new_topic,
    setup_topic,
    teardown,
)
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


async def _received(monitor_url: str, nodes: list[str]) -> dict[str, tuple[int, int]]:
    """``(bytes, msgs)`` the server has sent to each gateway's NATS connection so far."""
    timeout = aiohttp.ClientTimeout(total=5.0)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.get(f"{monitor_url}/connz", params={"limit": "4096"}) as response,
    ):
        body = await response.json()
    by_name = {
        c.get("name", ""): (int(c.get("out_bytes", 0)), int(c.get("out_msgs", 0)))
        for c in body["connections"]
    }
    missing = [n for n in nodes if f"haws-gateway {n}" not in by_name]
    if missing:
        raise RuntimeError(f"no NATS connection named haws-gateway {missing[0]} in /connz")
    return {node: by_name[f"haws-gateway {node}"] for node in nodes}


def received_rates(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]], seconds: float
) -> tuple[list[float], list[float]]:
    """Bytes/s and msgs/s per gateway between two ``_received`` readings."""
    nodes = list(before)
    byte_rates = [(after[n][0] - before[n][0]) / seconds for n in nodes]
    msg_rates = [(after[n][1] - before[n][1]) / seconds for n in nodes]
    return byte_rates, msg_rates


async def _measure(lab: Lab, stack: HawsStack) -> dict[str, Any]:
    sizes = lab.sizes
    dialect = HAWS_DIALECTS["haws"]
    urls = stack.gateway_urls()
    nodes = [g.name for g in stack.gateways]
    monitor = stack.infra.nats.monitor_url
    loads: list[TopicLoad] = []
    loop = asyncio.get_running_loop()
    try:
        for url in urls:
            loads.append(
                await setup_topic(
                    dialect, new_topic(NAME), sizes.interest_subscribers, [url], url, sizes
                )
            )
        rest = await _received(monitor, nodes)
        rest_began = loop.time()
        await asyncio.sleep(sizes.window / 2)  # at rest: the background's own traffic
        before = await _received(monitor, nodes)
        idle_bytes, _ = received_rates(rest, before, loop.time() - rest_began)
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
        after = await _received(monitor, nodes)
        sent = [load.publisher.sent for load in loads]
        lost_total = accounting(loads)["lost"]
    finally:
        await teardown(loads)
    rates, msg_rates = received_rates(before, after, seconds)
    own = [max(1, s) / seconds for s in sent]
    return {
        "gateways": len(nodes),
        "topic_rate": sizes.interest_rate,
        "subscribers_per_gateway": sizes.interest_subscribers,
        "seconds": round(seconds, 2),
        "bytes_per_s_by_gateway": [round(r) for r in rates],
        "msgs_per_s_by_gateway": [round(r, 1) for r in msg_rates],
        "msgs_per_own_msg_by_gateway": [
            round(m / o, 2) for m, o in zip(msg_rates, own, strict=True)
        ],
        "idle_bytes_per_s_by_gateway": [round(r) for r in idle_bytes],
        "total_bytes_per_s": round(sum(rates)),
        "mean_bytes_per_s": sum(rates) / len(rates),
        "max_bytes_per_s": max(rates),
        "lost": lost_total,
    }
