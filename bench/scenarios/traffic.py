"""Traffic on topics: subscribers, one publisher per topic, a measured window.

Shared by fan-out, latency and cluster: set the topics up, publish (as fast as
every subscriber keeps up, or at a fixed rate), open a window after the
warm-up, then stop publishing, let every subscriber catch up and count what
arrived against what was acked.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.figures import Figure, Role, skipped
from bench.loadgen.crowd import close_all, open_all
from bench.loadgen.dialects import Dialect
from bench.loadgen.flow import Flow
from bench.loadgen.publisher import Publisher
from bench.loadgen.subscriber import Subscriber
from bench.loadgen.tally import Latencies, lost
from bench.part_meter import CpuSplit
from bench.sizes import Sizes
from bench.usage import CpuMeter


class SetupFailed(Exception):
    """Clients could not connect or subscribe; the figure is skipped with this reason."""


@dataclass
class TopicLoad:
    topic: str
    subscribers: list[Subscriber]
    publisher: Publisher
    flow: Flow

    @property
    def peers(self) -> list[Any]:
        return [*self.subscribers, self.publisher]


def new_topic(kind: str) -> str:
    return f"bench.{kind}.{uuid.uuid4().hex[:8]}"


async def setup_topic(
    dialect: Dialect,
    topic: str,
    subscribers: int,
    sub_urls: Sequence[str],
    pub_url: str,
    sizes: Sizes,
    *,
    make: Callable[[Dialect, Flow], Subscriber] | None = None,
) -> TopicLoad:
    """Open ``subscribers`` clients on ``sub_urls`` (round-robin), subscribed to
    ``topic``, and a publisher on ``pub_url``; ``make`` builds each subscriber."""
    flow = Flow(subscribers, sizes.flow_window)
    build = make or (lambda d, f: Subscriber(d, flow=f))
    subs = [build(dialect, flow) for _ in range(subscribers)]
    opened = await open_all(subs, sub_urls, topic=topic, concurrency=sizes.connect_concurrency)
    publisher = Publisher(dialect, topic)
    load = TopicLoad(topic, subs, publisher, flow)
    if opened.failed:
        await close_all(subs)
        raise SetupFailed(f"{opened.failed} of {subscribers} subscribers: {opened.first_error}")
    await publisher.connect(pub_url)
    return load


async def teardown(loads: Sequence[TopicLoad]) -> None:
    await close_all([peer for load in loads for peer in load.peers])


async def drain(loads: Sequence[TopicLoad], timeout: float, *, closed_too: bool = False) -> float:
    """After the last pub: wait until every open subscriber (every one with
    ``closed_too``: they are reconnecting) has the last acked seq."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    for load in loads:
        await load.publisher.settle(timeout)
    while loop.time() - started < timeout:
        behind = [
            s
            for load in loads
            for s in load.subscribers
            if s.tally.last < load.publisher.max_acked
            and (closed_too or (s.conn is not None and s.conn.is_open))
        ]
        if not behind:
            break
        await asyncio.sleep(0.05)
    return loop.time() - started


def delivered(loads: Sequence[TopicLoad]) -> int:
    return sum(load.flow.delivered for load in loads)


def published(loads: Sequence[TopicLoad]) -> int:
    return sum(load.publisher.sent for load in loads)


async def run_window(
    loads: Sequence[TopicLoad],
    meter: CpuMeter,
    sizes: Sizes,
    *,
    rate: float | None = None,
    latencies: Latencies | None = None,
) -> dict[str, Any]:
    """Publish on every topic (closed loop, or ``rate`` msg/s each), measure one window."""
    loop = asyncio.get_running_loop()
    until = loop.time() + sizes.warmup + sizes.window
    per_topic = sizes.max_messages // max(1, len(loads))
    tasks: list[asyncio.Task[Any]]
    if rate is None:
        tasks = [
            asyncio.create_task(
                load.publisher.run_closed(load.flow, until=until, max_messages=per_topic)
            )
            for load in loads
        ]
    else:
        tasks = [
            asyncio.create_task(load.publisher.run_rate(rate, until=until, max_messages=per_topic))
            for load in loads
        ]
    await asyncio.sleep(sizes.warmup)
    start, d0, p0 = meter.sample(), delivered(loads), published(loads)
    split = CpuSplit(meter.server_pids)
    _record(loads, latencies)
    await asyncio.sleep(sizes.window)
    _record(loads, None)
    end, d1, p1 = meter.sample(), delivered(loads), published(loads)
    split.stop()
    results = await asyncio.gather(*tasks)
    drained = await drain(loads, sizes.drain_timeout)
    usage = meter.between(start, end)
    return {
        "delivered_per_s": (d1 - d0) / usage.seconds,
        # Server CPU per delivery: comparable even when the load generator,
        # not the server, set the pace (a share of one core over the window).
        "server_us_per_msg": usage.server * usage.seconds / max(1, d1 - d0) * 1e6,
        "published_per_s": (p1 - p0) / usage.seconds,
        # The same per process (gateway, presence, nats-server...): which part a
        # configuration's extra cost is in.
        "server_us_per_msg_by_process": split.per_unit(d1 - d0),
        "window_s": round(usage.seconds, 2),
        "drain_s": round(drained, 2),
        "publish_stalls": sum(r or 0 for r in results),
        **accounting(loads),
        **usage.details(),
    }


def _record(loads: Sequence[TopicLoad], latencies: Latencies | None) -> None:
    for load in loads:
        for sub in load.subscribers:
            sub.latencies = latencies


def accounting(loads: Sequence[TopicLoad]) -> dict[str, Any]:
    """Lost, duplicated, chain breaks and closed subscribers, counted at the wire."""
    missing = dups = breaks = closed = errors = 0
    codes: dict[str, int] = {}
    for load in loads:
        acked = load.publisher.published()
        errors += load.publisher.errors
        for sub in load.subscribers:
            if acked:
                missing += lost(sub.tally, acked, acked[0])
            dups += sub.tally.dups
            breaks += sub.tally.breaks
            if sub.close_codes:
                closed += 1
                key = str(sub.close_codes[-1])
                codes[key] = codes.get(key, 0) + 1
    return {
        "lost": missing,
        "duplicates": dups,
        "chain_breaks": breaks,
        "subscribers_closed": closed,
        "close_codes": codes,
        "pub_errors": errors,
        "acked": sum(len(load.publisher.acked) for load in loads),
    }


DELIVERED = "delivered msg/s"
COST = "server CPU/msg"


def throughput_figures(
    scenario: str, system: str, role: Role, details: dict[str, Any] | None, why: str = ""
) -> list[Figure]:
    """Delivered msg/s and the server's CPU per delivered message (µs)."""
    if details is None:
        return [
            skipped(scenario, DELIVERED, system, "msg/s", why, role=role, better="higher"),
            skipped(scenario, COST, system, "us", why, role=role, better="lower"),
        ]
    return [
        Figure(scenario, DELIVERED, system, details["delivered_per_s"], "msg/s", role=role,
               details=details),
        Figure(scenario, COST, system, details["server_us_per_msg"], "us", better="lower",
               role=role, details=details),
    ]  # fmt: skip
