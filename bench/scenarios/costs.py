"""Costs: the CPU each part of haws spends per hello, per delivery, per disconnect
and per resume, and the memory and KV bytes per connection, for the capacity model.

One gateway with presence and replay (the production configuration; a second
gateway idles until ``spread``), N clients on T topics (N/T subscribers each,
one subscription per client). The phases below, each followed by ``SETTLE`` seconds
(and on until the parts are at rest) so asynchronous work (KV writes, presence
claims and events) lands inside it, with each part's idle CPU rate (measured at
rest first) taken off:

- ``hello``: every client connects, says ``hello`` (new session) and ``sub``s;
- ``delivery``: one publisher per topic at the first of ``DELIVERY_RATES``
  msg/s for one window; units are messages delivered to clients (the
  publishes are in the details);
- ``delivery@<rate>``: the same at each further rate of ``DELIVERY_RATES``, on
  as many topics as keep the deliveries offered within ``DELIVERY_BUDGET`` per
  second (one at least): at a low rate each message is alone in its flush pass,
  one socket write per delivery; at a higher one several messages share a
  subscriber's write, so together the phases give the gateway's cost per
  delivery as a function of the rate at which a connection receives;
- ``publish``: T more topics with one subscriber each (on the first gateway),
  ``PUBLISH_RATE`` msg/s each: many publishes, few deliveries, so nats-server's
  CPU per published message (stored, acked, sent to one gateway) stands out;
- ``spread``: the same with one more subscriber per topic on the second gateway:
  nats-server now sends every message to two gateways, so the difference from
  ``publish`` is the cost of one more interested gateway, and the second
  gateway's CPU per message is what taking a topic's message from NATS (and
  delivering it once) costs a node;
- ``resume``: a quick reconnect: every client closes its WebSocket and at once
  reconnects with its ``session`` and ``cursors`` (at its last seq, so nothing
  is replayed), well within presence's leave grace, as after a failover: the
  unit is one close and one resume (no leave, no join);
- ``disconnect``: every client closes for good: the phase runs on past the
  leave grace until presence is at rest, so the unit is a session's end (its
  close and its leave).

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

from bench.capacity_inputs import REPLAY_TAIL, curve_metric
from bench.figures import Figure, why
from bench.lab import HAWS_DIALECTS, Lab
from bench.loadgen.crowd import close_all
from bench.loadgen.dialects import Dialect
from bench.loadgen.flow import Flow
from bench.loadgen.publisher import Publisher
from bench.loadgen.subscriber import Subscriber
from bench.nats_stats import per_unit, server_counters, stream_states
from bench.part_meter import OTHER_GATEWAYS, PARTS, PartMeter, rss_growth_kib, stack_parts
from bench.scenarios.traffic import TopicLoad, accounting, delivered, drain, new_topic, published

NAME = "costs"
CLIENTS = {"tiny": 100, "quick": 1_000, "full": 5_000}
TOPICS = {"tiny": 2, "quick": 5, "full": 10}
DELIVERY_RATES = {"tiny": (10.0, 100.0, 1000.0), "quick": (10.0, 1.0, 100.0, 400.0),
                  "full": (4.0, 1.0, 40.0, 400.0)}  # fmt: skip
"""msg/s per topic, so per subscriber (one subscription per client), of the delivery
phases; the first runs on every topic (full: 4 x 5,000 = 20,000 deliveries/s, as
latency) and is the ``delivery`` phase the other figures stand on; 1 msg/s is the
capacity model's default rate per connection, measured rather than clamped to."""
DELIVERY_BUDGET = {"tiny": 50_000, "quick": 100_000, "full": 100_000}
"""Deliveries per second a delivery phase offers at most: a higher rate runs on fewer
topics (the rest of the clients stay connected, idle), so the load generator, on
the same two cores, keeps up and the phase stays bounded."""
PUBLISH_RATE = {"tiny": 20.0, "quick": 50.0, "full": 100.0}
"""msg/s per topic of the publish and spread phases (one subscriber per topic)."""
SETTLE = 1.5
"""Seconds after a phase's last reply during which its trailing work is counted,
at least; then on until every part is back at its idle rate (``QUIET_MARGIN``),
at most ``SETTLE_MAX``: a backlog (presence claims queued behind a storm) belongs
to the phase that made it, not to the next."""
SETTLE_MAX = 30.0
LEAVE_WAIT = 7.0
"""The disconnect phase's least settle: presence's leave grace (``grace``, 5 s by
default) and a margin, so each session's leave falls inside it."""
QUIET_MARGIN = 0.02
"""Share of a core above a part's idle rate that still counts as back at rest."""
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
    the phase's details); the gateway's CPU per delivery at each rate; memory per
    connection; KV and stream sizes."""
    out: list[Figure] = []
    for point in details.get("delivery_curve", []):
        out.append(
            Figure(scenario, curve_metric(point["rate_per_conn"]), "haws", point["gateway_us"],
                   "us", better="lower", details=point)
        )  # fmt: skip
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
        ("gateway CPU/publish received", RECEIVED, "us"),
        (REPLAY_TAIL, "replay_us_per_publish", "us"),
        ("KV writes/hello", "kv_writes_per_hello", "writes"),
        ("NATS msgs in+out/hello", "nats_msgs_per_hello", "msgs"),
        ("sessions KV B/session", "sessions_kv_bytes_per_session", "B"),
        ("presence KV B/session", "presence_kv_bytes_per_session", "B"),
        ("stream B/msg", "stream_bytes_per_msg", "B"),
    ):
        out.append(Figure(scenario, metric, "haws", sizes[key], unit, better="lower",
                          details=_spread_rate(details) if key == RECEIVED else {}))  # fmt: skip
    return out


RECEIVED = "gateway_us_per_publish_received"


def _spread_rate(details: dict[str, Any]) -> dict[str, Any]:
    """The rate per connection at which the received figure was measured (the model
    reprices it at other rates)."""
    rate = (details.get("spread") or {}).get("rate_per_topic")
    return {} if rate is None else {"rate_per_conn": rate}


async def _measure(lab: Lab, meter: PartMeter, urls: list[str], nats_url: str, monitor: str) -> Any:
    mode = lab.sizes.name
    n, t = CLIENTS[mode], TOPICS[mode]
    dialect = HAWS_DIALECTS["haws"]
    url, second = urls[0], urls[1]
    loads = _loads(dialect, t, n, lab.sizes.flow_window)
    subs = [(sub, load.topic) for load in loads for sub in load.subscribers]
    # The publish and spread phases' own topics: one subscriber each on the first
    # gateway, many publishes, so nats-server's share per publish stands out.
    narrow = _loads(dialect, t, t, lab.sizes.flow_window)
    narrow_subs = [(sub, load.topic) for load in narrow for sub in load.subscribers]
    extra = [(Subscriber(dialect, flow=load.flow), load.topic) for load in narrow]
    nc: NatsClient = await nats.connect(nats_url, connect_timeout=5)
    rates = DELIVERY_RATES[mode]
    results: dict[str, Any] = {"clients": n, "topics": t, "rate_per_topic": rates[0]}
    peers = [*(s for s, _ in subs), *(s for s, _ in narrow_subs), *(s for s, _ in extra)]
    hello_notes: dict[str, Any] = {}
    try:
        await asyncio.sleep(SETTLE)
        rest = meter.sample()
        await asyncio.sleep(IDLE)
        meter.calibrate(rest, meter.sample())
        results["idle_cpu_share"] = {k: round(v, 4) for k, v in meter.idle.items()}

        async def phase(name: str, action: Action, settle: float = SETTLE) -> dict[str, Any]:
            print(f"    {name} ...", flush=True)
            found = await _phase(meter, nc, monitor, action, settle)
            results[name] = found
            return found

        async def deliver_at(rate: float, active: list[TopicLoad]) -> dict[str, Any]:
            notes: dict[str, Any] = {}
            found = await phase(f"delivery@{rate:g}", lambda: _deliver(lab, active, rate, notes))
            found.update(notes)
            return _point(found, len(active))

        slots = asyncio.Semaphore(lab.sizes.connect_concurrency)
        hello = await phase("hello", lambda: _open(subs, url, slots, hello_notes))
        for load in [*loads, *narrow]:
            await load.publisher.connect(url)
        notes: dict[str, Any] = {}
        delivery = await phase("delivery", lambda: _deliver(lab, loads, rates[0], notes))
        delivery.update(notes)
        curve = [_point(delivery, len(loads))]
        for rate in rates[1:]:
            active = loads[: _topics_within(rate, n // t, t, DELIVERY_BUDGET[mode])]
            curve.append(await deliver_at(rate, active))
        results["delivery_curve"] = curve
        await _open(narrow_subs, url, slots, {})
        rate, notes = PUBLISH_RATE[mode], {}
        publish = await phase("publish", lambda: _deliver(lab, narrow, rate, notes))
        publish.update(notes)
        await _open(extra, second, slots, {})
        for (sub, _), load in zip(extra, narrow, strict=True):
            load.subscribers.append(sub)
        notes = {}
        spread = await phase("spread", lambda: _deliver(lab, narrow, rate, notes))
        spread.update(notes)
        await close_all([*(s for s, _ in narrow_subs), *(s for s, _ in extra)])
        resumed: list[bool] = []
        notes = {}
        resume = await phase("resume", lambda: _reconnect(subs, url, slots, notes, resumed))
        resume.update(notes, resumed_true=sum(resumed), clients=n)
        await phase("disconnect", lambda: _close([s for s, _ in subs]), LEAVE_WAIT)
        hello.update(hello_notes)
    finally:
        await close_all([*peers, *(load.publisher for load in [*loads, *narrow])])
        await nc.close()
    results["sizes"] = _sizes(hello, delivery, publish, spread)
    return results


async def _phase(
    meter: PartMeter, nc: NatsClient, monitor: str, action: Action, settle: float
) -> dict[str, Any]:
    counters0, streams0 = await server_counters(monitor), await stream_states(nc)
    start = meter.sample()
    units = await action()
    await _settle(meter, settle)
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


async def _settle(meter: PartMeter, least: float) -> None:
    """``least`` seconds, then until every part is at rest again (``SETTLE_MAX`` at most)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(least, SETTLE_MAX)
    await asyncio.sleep(least)
    while loop.time() < deadline:
        before = meter.sample()
        await asyncio.sleep(0.5)
        if meter.quiet(before, meter.sample(), QUIET_MARGIN):
            return


def _topics_within(rate: float, per_topic: int, topics: int, budget: int) -> int:
    """How many topics at ``rate`` msg/s (``per_topic`` subscribers each) keep the
    deliveries per second within ``budget``: one at least, all at most."""
    return max(1, min(topics, int(budget // max(1.0, rate * per_topic))))


def _point(phase: dict[str, Any], topics: int) -> dict[str, Any]:
    """One point of the delivery curve: the gateway's CPU per delivery at a rate."""
    deliveries = int(phase["units"])
    fanout = deliveries / max(1, int(phase.get("published", 0)))
    rate = float(phase["rate_per_topic"])
    return {
        "rate_per_conn": rate,
        "gateway_us": phase["cpu_us"]["gateway"],
        "nats_us": phase["cpu_us"]["nats-server"],
        "topics": topics,
        "subscribers_per_topic": round(fanout, 1),
        "deliveries": deliveries,
        "offered_per_s": round(rate * fanout * topics, 1),
        "gateway_share": phase["cpu_share"]["gateway"],
        "loadgen_cpu": phase["loadgen_cpu"],
        "lost": phase.get("lost", 0),
        "subscribers_closed": phase.get("subscribers_closed", 0),
    }


def _sizes(
    hello: dict[str, Any],
    delivery: dict[str, Any],
    publish: dict[str, Any],
    spread: dict[str, Any],
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
        "nats_us_per_publish_1gw": per_publish(publish, "nats-server"),
        "nats_us_per_publish_2gw": per_publish(spread, "nats-server"),
        "gateway_us_per_publish_received": per_publish(spread, OTHER_GATEWAYS),
        "replay_us_per_publish": per_publish(publish, "replay"),
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
    notes: dict[str, Any],
    *,
    resumed: list[bool] | None = None,
) -> int:
    """Connect and subscribe every client, or (``resumed`` given: each welcome's
    ``resumed`` goes there) resume each one's session at its cursor; raises if
    more than 1% fail, else counts the failures and the first one in ``notes``."""
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
    notes.update(failed=len(errors), first_error=errors[0] if errors else None)
    return len(subs) - len(errors)


async def _deliver(lab: Lab, loads: list[TopicLoad], rate: float, notes: dict[str, Any]) -> int:
    """Publish at ``rate`` msg/s on every topic for one window; returns the
    deliveries, puts the publishes (and losses, duplicates) in ``notes``."""
    sizes = lab.sizes
    before, sent = delivered(loads), published(loads)
    until = asyncio.get_running_loop().time() + sizes.window
    await asyncio.gather(
        *(
            load.publisher.run_rate(rate, until=until, max_messages=sizes.max_messages)
            for load in loads
        )
    )
    await drain(loads, sizes.drain_timeout)
    notes.update(published=published(loads) - sent, rate_per_topic=rate, **accounting(loads))
    return delivered(loads) - before


def _loads(dialect: Dialect, topics: int, clients: int, window: int) -> list[TopicLoad]:
    """``topics`` topics, ``clients`` subscribers dealt over them, a publisher each."""
    loads = []
    for _ in range(topics):
        topic = new_topic(NAME)
        flow = Flow(max(1, clients // topics), window)
        loads.append(TopicLoad(topic, [], Publisher(dialect, topic), flow))
    for i in range(clients):
        load = loads[i % topics]
        load.subscribers.append(Subscriber(dialect, flow=load.flow))
    return loads


async def _reconnect(
    subs: list[tuple[Subscriber, str]],
    url: str,
    slots: asyncio.Semaphore,
    notes: dict[str, Any],
    resumed: list[bool],
) -> int:
    """Close every client, then resume each one's session at once."""
    await close_all([sub for sub, _ in subs])
    return await _open(subs, url, slots, notes, resumed=resumed)


async def _close(subs: list[Subscriber]) -> int:
    await close_all(subs)
    return len(subs)
