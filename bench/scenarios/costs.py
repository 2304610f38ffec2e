"""Costs: the CPU each part of haws spends per hello, per delivery, per disconnect
and per resume, and the memory and KV bytes per connection, for the capacity model.

One gateway with presence and replay (the production configuration; a second
gateway idles until ``spread``), N clients on T topics (N/T subscribers each,
one subscription per client). Five phases, each followed by ``SETTLE`` seconds
so asynchronous work (KV writes, presence claims and events) lands inside it,
with each part's idle CPU rate (measured at rest first) taken off:

- ``hello``: every client connects, says ``hello`` (new session) and ``sub``s;
- ``delivery``: one publisher per topic at ``RATE`` msg/s for one window;
  units are messages delivered to clients (the publishes are in the details);
- ``spread``: one more subscriber per topic on a second gateway, the same
  publishing again: nats-server now sends every message to two gateways, so
  the difference from ``delivery`` is the cost of one more interested gateway,
  and the second gateway's CPU per message is what receiving a topic's message
  from NATS (and delivering it once) costs a node;
- ``disconnect``: every client closes its WebSocket (the session stays resumable);
- ``resume``: every client reconnects with its ``session`` and ``cursors`` (at
  its last seq, so nothing is replayed: the cost of the resume itself).

CPU is read per process from ``/proc/<pid>/stat`` (gateway, nats-server,
presence, replay, Consul). nats-server's work includes the KV buckets and the
stream; the NATS message, byte and JetStream API counts per unit (``/varz``,
``/jsz``) and the buckets' writes and bytes (stream info) say how much of it is
KV. ``python -m bench.capacity_model`` turns these figures into a sizing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import nats
from nats.aio.client import Client as NatsClient

from bench.figures import Figure, why
from bench.lab import HAWS_DIALECTS, Lab
from bench.loadgen.crowd import close_all
from bench.loadgen.flow import Flow
from bench.loadgen.publisher import Publisher
from bench.loadgen.subscriber import Subscriber
from bench.nats_stats import per_unit, server_counters, stream_states
from bench.part_meter import OTHER_GATEWAYS, PARTS, PartMeter, rss_growth_kib, stack_parts
from bench.scenarios.traffic import TopicLoad, accounting, delivered, drain, new_topic, published

NAME = "costs"
CLIENTS = {"tiny": 100, "quick": 1_000, "full": 5_000}
TOPICS = {"tiny": 2, "quick": 5, "full": 10}
RATE = {"tiny": 10.0, "quick": 10.0, "full": 4.0}
"""msg/s per topic: x clients = deliveries per second (full: 20,000/s, as latency)."""
SETTLE = 1.5
"""Seconds after a phase's last reply during which its trailing work is counted."""
IDLE = 3.0
"""Seconds at rest that measure each part's background CPU rate."""
TIMEOUT = 60.0
"""Bound on one client's connect + hello + sub (or resume)."""
PHASES = ("hello", "delivery", "disconnect", "resume")
"""The phases whose CPU is reported by part (``spread`` adds three figures)."""
MEMORY_PARTS = ("gateway", "nats-server", "presence")

Action = Callable[[], Awaitable[int]]
"""Runs a phase's work; returns how many units it did."""


class TooManyFailed(Exception):
    pass


def run(lab: Lab) -> list[Figure]:
    if not lab.wants("haws"):
        return []
    n = CLIENTS[lab.sizes.name]
    scenario = f"{NAME}-{n}"
    print(f"  {scenario} haws (gateway + presence + replay) ...", flush=True)
    try:
        with lab.haws(gateways=2, replay=True, presence=True) as stack:
            meter = PartMeter(stack_parts(stack))
            details = lab.run(
                _measure(
                    lab, meter, stack.gateway_urls(), stack.infra.nats.url,
                    stack.infra.nats.monitor_url,
                )
            )  # fmt: skip
    except Exception as exc:  # reported in the table, the run goes on
        return [
            Figure(scenario, f"CPU/{phase} total", "haws", None, "us", "lower", skipped=why(exc))
            for phase in PHASES
        ]
    return figures_of(scenario, details)


def figures_of(scenario: str, details: dict[str, Any]) -> list[Figure]:
    """The table's rows: per phase, each part's CPU per unit and the total (with
    the phase's details); memory per connection; KV and stream sizes."""
    out: list[Figure] = []
    for phase in PHASES:
        d = details[phase]
        for part in (*PARTS, "total"):
            out.append(
                Figure(scenario, f"CPU/{phase} {part}", "haws", d["cpu_us"][part], "us",
                       better="lower", details=d if part == "total" else {})
            )  # fmt: skip
    memory = details["hello"]["rss_kib_per_unit"]
    for part in MEMORY_PARTS:
        out.append(
            Figure(scenario, f"memory/conn {part}", "haws", memory[part], "KiB", better="lower")
        )
    sizes = details["sizes"]
    for metric, key, unit in (
        ("NATS CPU/publish, 1 gateway", "nats_us_per_publish_1gw", "us"),
        ("NATS CPU/publish, 2 gateways", "nats_us_per_publish_2gw", "us"),
        ("gateway CPU/publish received", "gateway_us_per_publish_received", "us"),
        ("KV writes/hello", "kv_writes_per_hello", "writes"),
        ("NATS msgs in+out/hello", "nats_msgs_per_hello", "msgs"),
        ("sessions KV B/session", "sessions_kv_bytes_per_session", "B"),
        ("presence KV B/session", "presence_kv_bytes_per_session", "B"),
        ("stream B/msg", "stream_bytes_per_msg", "B"),
    ):
        out.append(Figure(scenario, metric, "haws", sizes[key], unit, better="lower"))
    return out


async def _measure(lab: Lab, meter: PartMeter, urls: list[str], nats_url: str, monitor: str) -> Any:
    mode = lab.sizes.name
    n, t = CLIENTS[mode], TOPICS[mode]
    dialect = HAWS_DIALECTS["haws"]
    url, second = urls[0], urls[1]
    topics = [new_topic(NAME) for _ in range(t)]
    loads = [
        TopicLoad(topic, [], Publisher(dialect, topic), Flow(n // t, lab.sizes.flow_window))
        for topic in topics
    ]
    subs: list[tuple[Subscriber, str]] = []
    for i in range(n):
        load = loads[i % t]
        sub = Subscriber(dialect, flow=load.flow)
        load.subscribers.append(sub)
        subs.append((sub, load.topic))
    nc: NatsClient = await nats.connect(nats_url, connect_timeout=5)
    results: dict[str, Any] = {"clients": n, "topics": t, "rate_per_topic": RATE[mode]}
    try:
        await asyncio.sleep(SETTLE)
        rest = meter.sample()
        await asyncio.sleep(IDLE)
        meter.calibrate(rest, meter.sample())
        results["idle_cpu_share"] = {k: round(v, 4) for k, v in meter.idle.items()}

        async def phase(name: str, action: Action) -> dict[str, Any]:
            print(f"    {name} ...", flush=True)
            found = await _phase(meter, nc, monitor, action)
            results[name] = found
            return found

        slots = asyncio.Semaphore(lab.sizes.connect_concurrency)
        hello = await phase("hello", lambda: _open(subs, url, slots))
        for load in loads:
            await load.publisher.connect(url)
        sent_before = published(loads)
        delivery = await phase("delivery", lambda: _deliver(lab, loads))
        delivery["published"] = published(loads) - sent_before
        delivery.update(accounting(loads))
        extra = [Subscriber(dialect, flow=load.flow) for load in loads]
        for sub, load in zip(extra, loads, strict=True):
            await sub.connect(second)
            await sub.subscribe(load.topic)
            load.subscribers.append(sub)
            load.flow.fanout += 1
        sent_before = published(loads)
        spread = await phase("spread", lambda: _deliver(lab, loads))
        spread["published"] = published(loads) - sent_before
        spread.update(accounting(loads))
        for sub, load in zip(extra, loads, strict=True):
            load.subscribers.remove(sub)
            load.flow.fanout -= 1
        await close_all(extra)
        await phase("disconnect", lambda: _close([s for s, _ in subs]))
        resumed: list[bool] = []
        resume = await phase("resume", lambda: _open(subs, url, slots, resumed=resumed))
        resume["resumed_true"] = sum(resumed)
        resume["clients"] = n
    finally:
        await close_all([*(s for s, _ in subs), *(load.publisher for load in loads)])
        await nc.close()
    results["sizes"] = _sizes(hello, delivery, spread)
    return results


async def _phase(meter: PartMeter, nc: NatsClient, monitor: str, action: Action) -> dict[str, Any]:
    counters0, streams0 = await server_counters(monitor), await stream_states(nc)
    start = meter.sample()
    units = await action()
    await asyncio.sleep(SETTLE)
    end = meter.sample()
    counters1, streams1 = await server_counters(monitor), await stream_states(nc)
    usage = meter.between(start, end)
    cpu = usage.per_unit_us(units)
    cpu["total"] = sum(cpu[part] for part in PARTS)
    return {
        "units": units,
        "seconds": round(usage.seconds, 3),
        "cpu_us": {k: round(v, 2) for k, v in cpu.items()},
        "cpu_share": usage.shares(),
        "loadgen_cpu": round(usage.loadgen / usage.seconds, 3),
        "nats_per_unit": per_unit(counters0, counters1, units),
        "streams_per_unit": per_unit(streams0, streams1, units, digits=3),
        "rss_kib_per_unit": {k: round(v, 2) for k, v in rss_growth_kib(start, end, units).items()},
    }


def _sizes(
    hello: dict[str, Any], delivery: dict[str, Any], spread: dict[str, Any]
) -> dict[str, float]:
    """Bytes per session of each KV bucket and per stored message, writes per hello,
    nats-server's and a receiving gateway's CPU per published message.

    From the phases' deltas: the bench's NATS is shared by every scenario of a
    run, so the buckets already hold earlier scenarios' sessions."""
    per_hello = hello["streams_per_unit"]
    stored = delivery["streams_per_unit"]
    published_n = max(1, delivery.get("published", 0))
    stream_bytes = stored["stream.bytes"] * max(1, delivery["units"]) / published_n
    nats = hello["nats_per_unit"]

    def per_publish(phase: dict[str, Any], part: str) -> float:
        spent = float(phase["cpu_us"][part]) * float(phase["units"])
        return round(spent / max(1, int(phase.get("published", 0))), 2)

    return {
        "nats_us_per_publish_1gw": per_publish(delivery, "nats-server"),
        "nats_us_per_publish_2gw": per_publish(spread, "nats-server"),
        "gateway_us_per_publish_received": per_publish(spread, OTHER_GATEWAYS),
        "kv_writes_per_hello": round(
            per_hello["sessions_kv.last_seq"] + per_hello["presence_kv.last_seq"], 2
        ),
        "nats_msgs_per_hello": round(nats["in_msgs"] + nats["out_msgs"], 2),
        "sessions_kv_bytes_per_session": round(per_hello["sessions_kv.bytes"], 1),
        "presence_kv_bytes_per_session": round(per_hello["presence_kv.bytes"], 1),
        "stream_bytes_per_msg": round(stream_bytes, 1),
    }


async def _open(
    subs: list[tuple[Subscriber, str]],
    url: str,
    slots: asyncio.Semaphore,
    *,
    resumed: list[bool] | None = None,
) -> int:
    """Connect and subscribe every client, or (``resumed`` given: each welcome's
    ``resumed`` goes there) resume each one's session at its cursor; raises if
    more than 1% fail."""
    errors: list[str] = []

    async def one(sub: Subscriber, topic: str) -> None:
        async with slots:
            try:
                async with asyncio.timeout(TIMEOUT):
                    if resumed is not None:
                        welcome = await sub.connect(
                            url, session=sub.session, cursors={topic: sub.tally.last},
                            timeout=TIMEOUT,
                        )  # fmt: skip
                        resumed.append(bool(welcome.get("resumed")))
                    else:
                        await sub.connect(url, timeout=TIMEOUT)
                        await sub.subscribe(topic)
            except Exception as exc:  # counted and reported, the others go on
                errors.append(f"{type(exc).__name__}: {exc}")

    await asyncio.gather(*(one(sub, topic) for sub, topic in subs))
    if len(errors) > len(subs) // 100:
        raise TooManyFailed(f"{len(errors)} of {len(subs)} failed: {errors[0]}")
    return len(subs) - len(errors)


async def _deliver(lab: Lab, loads: list[TopicLoad]) -> int:
    """Publish at ``RATE`` on every topic for one window; deliveries counted."""
    sizes = lab.sizes
    before = delivered(loads)
    until = asyncio.get_running_loop().time() + sizes.window
    rate = RATE[sizes.name]
    await asyncio.gather(
        *(
            load.publisher.run_rate(rate, until=until, max_messages=sizes.max_messages)
            for load in loads
        )
    )
    await drain(loads, sizes.drain_timeout)
    return delivered(loads) - before


async def _close(subs: list[Subscriber]) -> int:
    await close_all(subs)
    return len(subs)
