"""Soak (``make soak``): many clients churning for a long time on a local cluster.

``SOAK_MINUTES`` (default 30) of: ``SOAK_CLIENTS`` (default 2,000) SDK clients,
of which ``WITNESSES`` stay subscribed to one topic and are checked at the wire
(every acked message exactly once, in order) and the rest churn: every second
some of them resume their session on a new connection, move to another topic,
or start a new session. A steady publish runs on the witness topic and on the
churners' topics; the gateways are restarted one at a time every
``SOAK_ROLL_MINUTES`` (default 5) and one gateway is SIGKILLed half-way.

Every ``SAMPLE_EVERY`` seconds it records each gateway's RSS, open fds and
asyncio tasks, the session bucket's keys and the stream's bytes, and prints the
slope of each (per minute, least squares) over the steady part of the run (after
the stream's retention filled, restarts excluded). Flat means (``BOUNDS``):
RSS within 2 MiB/min, fds and tasks within 2/min per gateway, KV keys within 1%
of the clients per minute, stream bytes within 2% of their mean per minute. The
bounds are asserted when that steady part lasts ``ASSERT_AFTER_MINUTES`` or
more (a 3-minute run prints them only: too short to tell a slope from noise).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import nats
import pytest
from nats.errors import Error as NatsError

from haws.client import Client
from haws.cluster import ClusterSpec, Gateway
from haws.common import names
from tests.e2e.chaos.conftest import Harness
from tests.e2e.chaos.probes import metrics
from tests.e2e.chaos.stream import SteadyStream

pytestmark = [pytest.mark.soak, pytest.mark.timeout(0)]

MINUTES = float(os.environ.get("SOAK_MINUTES", "30"))
CLIENTS = int(os.environ.get("SOAK_CLIENTS", "2000"))
ROLL_MINUTES = float(os.environ.get("SOAK_ROLL_MINUTES", "5"))
WITNESSES = min(100, CLIENTS // 10)
CHURN_TOPICS = 20
CHURN_PER_SECOND = max(1, CLIENTS // 200)
WITNESS_RATE = 10.0
CHURN_RATE = 10.0
SAMPLE_EVERY = 10.0
RETENTION = 300.0
"""Seconds the stream keeps messages here: stream bytes can level off within the run.
Longer than any resume under load must take: a first 30-minute run with 60 s saw
witnesses resume past retention during a rolling restart of 2,000 clients on a
loaded machine (``recovered complete:false``, as the protocol says it must)."""
DUPLICATE_WINDOW = 120.0
SESSION_TTL = 120.0
ASSERT_AFTER_MINUTES = 5.0
SETTLE_AFTER_RESTART = 30.0
MIB = 1024 * 1024
SPEC = ClusterSpec(
    nats=1,
    gateways=3,
    presence=0,
    replay=1,
    haproxy=False,
    gateway_args=("--consul-ttl", "2", "--drain-period", "2", "--heartbeat", "5"),
)


@dataclass
class Sample:
    at: float
    rss: float
    fds: float
    tasks: float
    connections: float
    kv_keys: float
    stream_bytes: float


@dataclass
class Churn:
    clients: list[Client] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    """The topic each churner is subscribed to."""
    actions: dict[str, int] = field(default_factory=dict)

    def count(self, action: str) -> None:
        self.actions[action] = self.actions.get(action, 0) + 1


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of ``(seconds, value)`` points, per minute."""
    if len(points) < 3:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    cov = sum((t - mean_t) * (v - mean_v) for t, v in points)
    return cov / var * 60.0


@contextlib.contextmanager
def soak_environment() -> Iterator[None]:
    """Short retention (and dedupe window) and session TTL for every child (``HAWS_*``)."""
    keys = ("HAWS_STREAM_MAX_AGE", "HAWS_STREAM_DUPLICATE_WINDOW", "HAWS_SESSION_TTL")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ["HAWS_STREAM_MAX_AGE"] = str(RETENTION)
    os.environ["HAWS_STREAM_DUPLICATE_WINDOW"] = str(min(DUPLICATE_WINDOW, RETENTION))
    os.environ["HAWS_SESSION_TTL"] = str(SESSION_TTL)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


async def sample(gateways: list[Gateway], nats_url: str, started: float) -> Sample | None:
    totals = {"rss": 0.0, "fds": 0.0, "tasks": 0.0, "connections": 0.0}
    for gw in gateways:
        try:
            m = await metrics(gw.http_url)
        except Exception:  # a gateway between lives: counted as absent
            continue
        totals["rss"] += m.get("process_resident_memory_bytes", 0.0)
        totals["fds"] += m.get("process_open_fds", 0.0)
        totals["tasks"] += m.get("haws_gateway_asyncio_tasks", 0.0)
        totals["connections"] += m.get("haws_gateway_connections", 0.0)
    try:
        nc = await nats.connect(servers=[nats_url], connect_timeout=5)
    except (NatsError, TimeoutError, OSError):
        return None
    try:
        js = nc.jetstream(timeout=5)
        kv = await js.stream_info(f"KV_{names.KV_SESSIONS}")
        stream = await js.stream_info(names.STREAM)
    except (NatsError, TimeoutError, OSError):
        return None  # a loaded broker: this sample is skipped, the next one is taken
    finally:
        await nc.close()
    return Sample(
        time.monotonic() - started,
        totals["rss"],
        totals["fds"],
        totals["tasks"],
        totals["connections"],
        float(kv.state.messages),
        float(stream.state.bytes),
    )


async def churn_once(churn: Churn, urls: list[str], topics: list[str]) -> None:
    """One churner does one thing: resume on a new connection, change topic, or start anew."""
    index = random.randrange(len(churn.clients))
    old = churn.clients[index]
    action = random.choice(("resume", "move", "renew"))
    topic = random.choice(topics)
    if action == "move":
        with contextlib.suppress(Exception):
            await old.unsubscribe(churn.topics[index])
            await old.subscribe(topic)
            churn.topics[index] = topic
        churn.count(action)
        return
    session = old.session if action == "resume" else None
    await old.close()
    fresh = Client(
        random.sample(urls, len(urls)), discover=False, session=session, ping_interval=10
    )
    churn.clients[index] = fresh
    # start(), not connect(): a client whose first attempt is slow (a node draining
    # under load) keeps trying, as an application's would, instead of giving up.
    fresh.start()
    with contextlib.suppress(Exception):
        await fresh.wait_connected(10)
        await asyncio.wait_for(fresh.subscribe(topic), 10)
        churn.topics[index] = topic
    churn.count(action)


async def test_soak(harness: Harness) -> None:
    with soak_environment():
        cluster = await harness.start_cluster(SPEC)
    gateways = cluster.gateways
    urls = [g.ws_url for g in gateways]
    started = time.monotonic()
    end_at = started + MINUTES * 60
    witness_topic = f"soak.witness.{uuid.uuid4().hex[:6]}"
    topics = [f"soak.churn{i}.{uuid.uuid4().hex[:6]}" for i in range(CHURN_TOPICS)]

    witnesses = harness.fleet("w")
    await witnesses.open(WITNESSES, gateways)
    await witnesses.subscribe(witness_topic)
    churn = Churn()
    for batch in range(0, CLIENTS - WITNESSES, 50):
        group = [
            Client(random.sample(urls, len(urls)), discover=False, ping_interval=10)
            for _ in range(min(50, CLIENTS - WITNESSES - batch))
        ]
        chosen = [random.choice(topics) for _ in group]
        await asyncio.gather(*(c.connect() for c in group))
        await asyncio.gather(*(c.subscribe(t) for c, t in zip(group, chosen, strict=True)))
        churn.clients.extend(group)
        churn.topics.extend(chosen)
    print(
        f"\nSOAK {len(churn.clients) + WITNESSES} clients up in {time.monotonic() - started:.0f} s"
    )

    publisher = harness.client(urls[:2], name="publisher")
    await publisher.connect()
    seconds = MINUTES * 60
    stream = SteadyStream(
        publisher, witness_topic, int(seconds * WITNESS_RATE), WITNESS_RATE, deadline=seconds + 60
    )
    chatter_client = harness.client(urls[1:])
    await chatter_client.connect()
    stream.start()

    samples: list[Sample] = []
    restarts: list[tuple[float, float]] = []
    """(start, end) of each rolling restart and of the kill and its restart."""
    roll_started = 0.0
    next_sample = time.monotonic()
    next_roll = started + ROLL_MINUTES * 60
    killed = False
    roll: asyncio.Task[object] | None = None
    chatter = 0
    try:
        while time.monotonic() < end_at:
            now = time.monotonic()
            if now >= next_sample:
                taken = await sample(gateways, cluster.nats.urls[0], started)
                if taken is not None:
                    samples.append(taken)
                next_sample = now + SAMPLE_EVERY
            if roll is None and now >= next_roll:
                roll_started = now - started
                roll = asyncio.ensure_future(asyncio.to_thread(cluster.rolling_restart, 300.0))
                next_roll = now + ROLL_MINUTES * 60
            if roll is not None and roll.done():
                roll.result()
                restarts.append((roll_started, time.monotonic() - started))
                roll = None
            if not killed and roll is None and now - started >= seconds / 2:
                killed = True
                victim = gateways[-1]
                await asyncio.to_thread(victim.kill)
                await asyncio.to_thread(victim.start, 60.0)
                restarts.append((now - started, time.monotonic() - started))
            for _ in range(CHURN_PER_SECOND):
                await churn_once(churn, urls, topics)
            for _ in range(int(CHURN_RATE)):
                chatter += 1
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(
                        chatter_client.publish(random.choice(topics), {"n": chatter}), 5
                    )
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - now)))  # pacing the churn
        if roll is not None:
            await roll
            restarts.append((roll_started, time.monotonic() - started))
    finally:
        await asyncio.gather(*(c.close() for c in churn.clients), return_exceptions=True)

    await stream.finish()
    acked = stream.seqs
    incomplete = ""
    try:
        await witnesses.wait_received(witness_topic, set(acked), timeout=120)
    except AssertionError as exc:  # reported with the figures, then failed below
        incomplete = str(exc)[:2000]
    totals = witnesses.verify(witness_topic, acked)
    app_faults = witnesses.application_faults(acked)

    warm = RETENTION + 30.0
    steady = [
        s
        for s in samples
        if s.at >= warm and all(not (a <= s.at < b + SETTLE_AFTER_RESTART) for a, b in restarts)
    ]
    window_minutes = (steady[-1].at - steady[0].at) / 60 if len(steady) >= 2 else 0.0
    mean_bytes = sum(s.stream_bytes for s in steady) / len(steady) if steady else 0.0
    bounds = {
        "rss": 2 * MIB * len(gateways),
        "fds": 2.0 * len(gateways),
        "tasks": 2.0 * len(gateways),
        "kv_keys": 0.01 * CLIENTS,
        "stream_bytes": 0.02 * mean_bytes,
    }
    slopes = {name: slope_per_minute([(s.at, getattr(s, name)) for s in steady]) for name in bounds}
    flat = {name: abs(slopes[name]) <= bounds[name] for name in bounds}
    harness.emit(
        "soak",
        kind="SOAK",
        minutes=MINUTES,
        total_clients=CLIENTS,
        **totals.counts(),
        rpo=totals.lost,
        churn=churn.actions,
        restarts=[(round(a, 1), round(b, 1)) for a, b in restarts],
        steady_samples=len(steady),
        window_minutes=round(window_minutes, 2),
        slopes_per_minute={k: round(v, 2) for k, v in slopes.items()},
        bounds_per_minute={k: round(v, 2) for k, v in bounds.items()},
        flat=flat,
        last_sample=vars(samples[-1]) if samples else None,
        app_faults=len(app_faults),
        incomplete=incomplete or None,
    )
    assert not incomplete, incomplete
    assert not stream.failures, stream.failures[:5]
    assert totals.ok, totals.evidence()
    assert not app_faults, list(app_faults.items())[:5]
    if window_minutes >= ASSERT_AFTER_MINUTES:
        assert all(flat.values()), (slopes, bounds)
