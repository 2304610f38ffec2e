"""Presence: events per second one replica handles, and kill-to-last-leave.

``presence-events-N``: one presence replica (system ``haws``) and, in the
same run, two replicas (system ``haws-presence2``), no gateway. N sessions are
claimed, then each sends ``sub`` (a presence topic) and ``unsub``
as a gateway would, over NATS, from ``SENDERS`` connections with ``WINDOW``
sessions in flight on each; one session's requests go one after the other.
Twice: batched as a busy gateway sends them (``haws.presence.batch``: a
window's 64 claims in one request, then their subs, then their unsubs; the
targets' figure ``claims+events/s``) and one item per request (``one per
request``), the way every gateway sent them before batches. The clock
runs until every reply arrived, every join and leave of the topic was
published on ``haws.pres.<topic>`` and a ``presence`` query answers the
final (empty) member list. Figures: claims + events per second, and the same
per second of server CPU (every server process: replicas and nats-server), the
figure a loaded machine does not distort as much.

``presence-leave-M``: a presence replica and two gateways (``--presence-heartbeat
0.5``). M raw WebSocket clients on gateway A and a watcher on gateway B all
``sub`` one topic with ``presence: true``; once the watcher saw the M joins, A
is killed with SIGKILL. Figure: seconds from the kill until the watcher got
the last of the M ``leave`` frames (promised within heartbeat timeout + grace).
No baseline: the table prints the figures alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.errors import NotFoundError

from bench.figures import Figure, why
from bench.lab import HAWS_DIALECTS, Lab
from bench.loadgen.crowd import close_all, open_all
from bench.loadgen.peer import Peer, Reply
from bench.scenarios.traffic import new_topic
from bench.systems import Skipped
from bench.systems.haws import PER_MEMBER_PRESENCE, HawsStack
from bench.targets import PRESENCE_CORE_EACH, PRESENCE_SESSIONS
from bench.usage import CpuMeter, cpu_seconds
from haws.cluster import service_available
from haws.cluster.component import wait_ready_all
from haws.cluster.services import backend_service
from haws.common import names
from haws.common import presence_protocol as pp
from haws.common.tasks import stop_task
from haws.presence.lease import LeaseValue

NAME = "presence"
SESSIONS = PRESENCE_SESSIONS
"""Sessions of the events figure (each: claim, sub, unsub)."""
SUBSCRIBERS = {"tiny": 20, "quick": 200, "full": 1_000}
"""Presence subscribers on the gateway that is killed."""
SENDERS = 4
"""NATS connections sending requests, as several gateways would."""
WINDOW = 64
"""Sessions in flight per sender (4 x 64 = 256, under the replica's 512)."""
REQUEST_TIMEOUT = 10.0
EVENTS_TIMEOUT = 120.0
"""Bound on the whole events measurement."""
HEARTBEAT_TIMEOUT = 3.0
GRACE = 5.0
PRESENCE_ARGS = [
    "--heartbeat-timeout",
    str(HEARTBEAT_TIMEOUT),
    "--grace",
    str(GRACE),
    "--node-dead-grace",  # the kill's leaves come after this one: kept at 5 s, as before
    str(GRACE),
    *PER_MEMBER_PRESENCE,  # every join and leave is counted, on one topic of N members
]
GATEWAY_ARGS = ["--presence-heartbeat", "0.5"]
REPLICAS = {"haws": (1, 1), "haws-presence2": (2, 4)}
"""The events figure's systems: (presence replicas behind queue group
``haws-presence``, their leader shards, ``--presence-shards``)."""
CORE_EACH = PRESENCE_CORE_EACH
"""Shards can only show there on this bench, whose server processes all share one
core (docs/presence.md, "Throughput")."""
SETTLE_TIMEOUT = 15.0
"""Bound on the wait for the leader shards to spread over the replicas."""
LEAVE_SLACK = 20.0
"""Seconds past heartbeat timeout + grace the watcher waits for the last leave."""


def run(lab: Lab) -> list[Figure]:
    if not lab.wants("haws"):
        return []
    mode = lab.sizes.name
    figures: list[Figure] = []
    n = SESSIONS[mode]
    scenario = f"{NAME}-events-{n}"
    for system, (replicas, shards) in REPLICAS.items():
        for batched, metric in ((True, "claims+events/s"), (False, "one per request")):
            figures += _events_figures(lab, scenario, system, replicas, shards, n, batched, metric)
    m = SUBSCRIBERS[mode]
    scenario = f"{NAME}-leave-{m}"
    print(f"  {scenario} haws (presence {' '.join(PRESENCE_ARGS)}) ...", flush=True)
    try:
        with _stack(lab, gateways=2) as stack:
            details = lab.run(_leave(lab, stack, m))
        for metric, key in (("kill to first leave", "first_s"), ("kill to last leave", "last_s")):
            figures.append(
                Figure(scenario, metric, "haws", details[key], "s", better="lower", details=details)
            )
    except Exception as exc:  # reported in the table, the run goes on
        figures.append(
            Figure(
                scenario, "kill to last leave", "haws", None, "s", better="lower", skipped=why(exc)
            )
        )
    return figures


def _events_figures(
    lab: Lab,
    scenario: str,
    system: str,
    replicas: int,
    shards: int,
    n: int,
    batched: bool,
    metric: str,
) -> list[Figure]:
    """``metric`` per second and per server-core second; batched as a busy gateway
    sends (``haws.presence.batch``, the targets' figure) or one item per request.
    Batched, also the projection with a core for each server process."""
    how = "batches of 64" if batched else "one per request"
    print(
        f"  {scenario} {system} ({replicas} presence replicas, {shards} shards, {how}) ...",
        flush=True,
    )
    try:
        with _stack(lab, gateways=0, replicas=replicas, shards=shards) as stack:
            details = lab.run(_events(stack, n, batched))
    except Exception as exc:  # reported in the table, the run goes on
        return [Figure(scenario, metric, system, None, "ops/s", skipped=why(exc))]
    details["replicas"] = replicas
    details["shards"] = shards
    core = "per server core" if batched else "per server core, one per request"
    figures = [
        Figure(scenario, metric, system, details["ops_per_s"], "ops/s", details=details),
        Figure(scenario, core, system, details["ops_per_core_s"], "ops/core-s", details=details),
    ]
    if batched:
        figures.append(
            Figure(
                scenario,
                CORE_EACH,
                system,
                details["ops_per_s_core_each"],
                "ops/s",
                details=details,
            )
        )
    return figures


@contextlib.contextmanager
def _stack(lab: Lab, *, gateways: int, replicas: int = 1, shards: int = 1) -> Iterator[HawsStack]:
    """``replicas`` presence replicas (started first) and ``gateways`` gateways, on a
    fresh bucket. The extra replicas join the stack's backends, so they are
    measured, pinned to the server core and stopped with it."""
    if not service_available("presence"):
        raise Skipped("the presence service is not installed")
    infra = lab.infra()
    lab.run(_drop_bucket(infra.nats.url))  # the records of an earlier measurement
    extra = [*GATEWAY_ARGS, *lab.options.gateway_args]
    presence_args = [*PRESENCE_ARGS, "--presence-shards", str(shards)]
    stack = HawsStack(infra, gateways=gateways, extra_args=extra, presence_args=presence_args)
    lab.wait_quiet()
    stack.start()
    try:
        for i in range(2, replicas + 1):
            replica = backend_service(
                infra.data_dir,
                "presence",
                name=f"presence-{uuid.uuid4().hex[:6]}-{i}",
                nats_url=infra.nats.url,
                extra_args=[*PER_MEMBER_PRESENCE, *presence_args],
            )
            stack.backends.append(replica)
            replica.spawn()
            wait_ready_all([replica], 30.0)
            if replica.pid is not None:
                infra.machine.pin_server(replica.pid)
        if shards > 1:
            lab.run(_shards_settled(infra.nats.url, shards, min(replicas, shards)))
        yield stack
    finally:
        stack.stop()


async def _shards_settled(nats_url: str, shards: int, holders: int) -> None:
    """Wait until every leader shard is held and spread over ``holders`` replicas, so
    the measurement starts after the handovers a joining replica causes (each re-sends
    its log once), not during them."""
    nc = await nats.connect(nats_url)
    try:
        kv = await nc.jetstream().key_value(names.KV_PRESENCE)
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while time.monotonic() < deadline:
            held: list[str] = []
            for shard in range(shards):
                with contextlib.suppress(NotFoundError):
                    value = LeaseValue.decode(
                        (await kv.get(names.presence_shard_key(shard))).value or b""
                    )
                    if value is not None and value.holder:
                        held.append(value.holder)
            if len(held) == shards and len(set(held)) == holders:
                return
            await asyncio.sleep(0.1)  # polling the leases until they settle (bounded)
        raise Skipped(f"presence shards not spread over {holders} replicas in {SETTLE_TIMEOUT} s")
    finally:
        await nc.close()


async def _drop_bucket(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        with contextlib.suppress(NotFoundError):
            await nc.jetstream().delete_key_value(names.KV_PRESENCE)
    finally:
        await nc.close()


# -- events per second -------------------------------------------------------


@dataclass
class Changes:
    """Distinct joins and leaves published on one topic."""

    expected: int
    joins: set[str] = field(default_factory=set)
    leaves: set[str] = field(default_factory=set)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, change: pp.Change) -> None:
        (self.joins if change.kind == "join" else self.leaves).add(change.session)
        if len(self.joins) >= self.expected and len(self.leaves) >= self.expected:
            self.done.set()


@dataclass
class Tally:
    requests: int = 0
    errors: int = 0
    stale: int = 0
    first_error: str | None = None

    def failed(self, exc: BaseException) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = f"{type(exc).__name__}: {exc}"


async def _request(nc: NatsClient, subject: str, message: Any, reply: type[Any]) -> Any:
    response = await nc.request(subject, pp.encode(message), timeout=REQUEST_TIMEOUT)
    return pp.decode(reply, response.data)


async def _session(nc: NatsClient, node: str, topic: str, tally: Tally) -> None:
    """One session as a gateway reports it: claim, then sub and unsub, in order."""
    session, conn = uuid.uuid4().hex, uuid.uuid4().hex[:12]
    try:
        claimed = await _request(
            nc, names.PRESENCE_CLAIM, pp.Claim(session, node, conn), pp.ClaimReply
        )
        tally.requests += 1
        for kind in ("sub", "unsub"):
            event = pp.Event(kind, session, node, conn, claimed.epoch, topic)
            answer = await _request(nc, names.PRESENCE_EVENT, event, pp.EventReply)
            tally.requests += 1
            tally.stale += answer.stale
    except Exception as exc:  # counted and reported, the others go on
        tally.failed(exc)


async def _batch(nc: NatsClient, batch: pp.Batch) -> pp.BatchReply:
    response = await nc.request(names.PRESENCE_BATCH, batch.encode(), timeout=REQUEST_TIMEOUT)
    return pp.BatchReply.decode(response.data)


async def _window(nc: NatsClient, node: str, topic: str, k: int, tally: Tally) -> None:
    """``k`` sessions as a busy gateway reports them: their claims in one batch,
    then their subs in one, then their unsubs in one."""
    ids = [(uuid.uuid4().hex, uuid.uuid4().hex[:12]) for _ in range(k)]
    try:
        claimed = await _batch(nc, pp.Batch(claims=[pp.Claim(s, node, c) for s, c in ids]))
        tally.requests += k
        epochs = [reply.epoch for reply in claimed.claims]
        for kind in ("sub", "unsub"):
            events = [
                pp.Event(kind, s, node, c, epoch, topic)
                for (s, c), epoch in zip(ids, epochs, strict=True)
            ]
            answers = await _batch(nc, pp.Batch(events=events))
            tally.requests += k
            tally.stale += sum(answer.stale for answer in answers.events)
    except Exception as exc:  # counted and reported, the others go on
        tally.failed(exc)


async def _sender(
    nc: NatsClient, node: str, topic: str, count: int, tally: Tally, batched: bool
) -> None:
    if batched:
        for start in range(0, count, WINDOW):
            await _window(nc, node, topic, min(WINDOW, count - start), tally)
        return
    left = iter(range(count))

    async def lane() -> None:
        for _ in left:  # shared iterator: each lane takes the next session
            await _session(nc, node, topic, tally)

    await asyncio.gather(*(lane() for _ in range(WINDOW)))


async def _heartbeats(nc: NatsClient, nodes: list[str]) -> None:
    """Keep the simulated gateway nodes alive (their sessions would go offline)."""
    while True:
        for node in nodes:
            with contextlib.suppress(Exception):
                await _request(
                    nc, names.PRESENCE_HEARTBEAT, pp.Heartbeat(node, 0), pp.HeartbeatReply
                )
        await asyncio.sleep(0.5)  # the heartbeat period, not a synchronisation


async def _members(nc: NatsClient, topic: str) -> list[dict[str, Any]] | None:
    with contextlib.suppress(Exception):
        reply = await _request(nc, names.PRESENCE_QUERY, pp.Query(topic), pp.QueryReply)
        return list(reply.members)
    return None


async def _events(stack: HawsStack, n: int, batched: bool) -> dict[str, Any]:
    url = stack.infra.nats.url
    conns = [await nats.connect(url) for _ in range(SENDERS)]
    watcher = await nats.connect(url)
    topic = new_topic(NAME)
    nodes = [f"bench-gw-{uuid.uuid4().hex[:6]}" for _ in conns]
    changes = Changes(n)
    tally = Tally()

    async def on_change(msg: Msg) -> None:
        changes.add(pp.decode(pp.Change, msg.data))

    await watcher.subscribe(names.presence_changes_subject(topic), cb=on_change)
    await watcher.flush()
    beating = asyncio.create_task(_heartbeats(watcher, nodes))
    meter = CpuMeter(stack.pids())
    parts = _parts(stack)
    converged = False
    try:
        start = meter.sample()
        cpu_before = {name: cpu_seconds(pid) for name, pid in parts.items()}
        began = time.monotonic()
        counts = [n // SENDERS + (i < n % SENDERS) for i in range(SENDERS)]
        async with asyncio.timeout(EVENTS_TIMEOUT):
            await asyncio.gather(
                *(
                    _sender(nc, node, topic, k, tally, batched)
                    for nc, node, k in zip(conns, nodes, counts, strict=True)
                )
            )
            replied = time.monotonic() - began
            published = asyncio.create_task(changes.done.wait())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(published, REQUEST_TIMEOUT)
            while not converged and time.monotonic() - began < EVENTS_TIMEOUT - 1:
                converged = changes.done.is_set() and await _members(watcher, topic) == []
                if not converged:
                    await asyncio.sleep(0.05)  # polling the query: the rare case
        seconds = time.monotonic() - began
        end = meter.sample()
        cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in parts.items()}
    finally:
        # Cancelled again until it ends: on 3.11 a request's ``wait_for`` can swallow
        # the cancellation as its reply lands, and the heartbeats would go on for ever.
        await stop_task(beating)
        for nc in [*conns, watcher]:
            await nc.close()
    usage = meter.between(start, end)
    return {
        "sessions": n,
        "requests": tally.requests,
        "ops_per_s": round(tally.requests / seconds, 1) if converged else None,
        "replies_s": round(replied, 3),
        "converged_s": round(seconds, 3),
        "converged": converged,
        "joins": len(changes.joins),
        "leaves": len(changes.leaves),
        "errors": tally.errors,
        "first_error": tally.first_error,
        "stale": tally.stale,
        "in_flight": SENDERS * WINDOW,
        "batched": batched,
        **usage.details(),
        "ops_per_core_s": (
            round(tally.requests / (usage.server * seconds), 1)
            if converged and usage.server > 0
            else None
        ),
        "cpu_us_per_op": {
            name: round(1e6 * spent / tally.requests, 1) if tally.requests else None
            for name, spent in cpu.items()
        },
        # Each server process on a core of its own, none waiting for another: the
        # busiest one (a replica or nats-server) sets the pace.
        "ops_per_s_core_each": (
            round(tally.requests / max(cpu.values()), 1)
            if converged and cpu and max(cpu.values()) > 0
            else None
        ),
    }


def _parts(stack: HawsStack) -> dict[str, int]:
    """The pid of nats-server and of each presence replica, by name."""
    parts = {"nats-server": stack.infra.nats.pid} if stack.infra.nats.pid is not None else {}
    replicas = [b for b in stack.backends if b.name.startswith("presence") and b.pid is not None]
    for i, replica in enumerate(replicas, 1):
        if replica.pid is not None:
            parts[f"presence-{i}"] = replica.pid
    return parts


# -- kill to last leave -------------------------------------------------------


class PresenceClient(Peer):
    """Subscribes with ``presence: true``; notes join/leave frames and when they came."""

    def __init__(self) -> None:
        super().__init__(HAWS_DIALECTS["haws"])
        self.joined: dict[str, int] = {}
        self.left: dict[str, int] = {}

    async def subscribe(self, topic: str, since: int | None = None) -> Reply:
        rid = self.next_id()
        frame = {"op": "sub", "id": rid, "topic": topic, "presence": True}
        return await self.request(self.dialect.encode(frame), rid)

    def on_control(self, reply: Reply, now: int) -> None:
        op = reply.get("op")
        if op in ("join", "leave"):
            session = str(reply.get("who", {}).get("session"))
            (self.joined if op == "join" else self.left).setdefault(session, now)
            return
        super().on_control(reply, now)


async def _until(predicate: Any, timeout: float) -> bool:
    """Poll ``predicate`` (a frame counter) until true or ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def _leave(lab: Lab, stack: HawsStack, m: int) -> dict[str, Any]:
    node_a, node_b = stack.gateways
    url_a, url_b = (f"ws://127.0.0.1:{g.port}" for g in (node_a, node_b))
    topic = new_topic(NAME)
    watcher = PresenceClient()
    clients = [PresenceClient() for _ in range(m)]
    try:
        await watcher.connect(url_b)
        await watcher.subscribe(topic)
        opened = await open_all(
            clients, [url_a], topic=topic, concurrency=lab.sizes.connect_concurrency
        )
        doomed = {c.session for c in clients if c.session and c.conn and c.conn.is_open}
        if not await _until(lambda: doomed <= watcher.joined.keys(), 30.0):
            missing = len(doomed - watcher.joined.keys())
            raise Skipped(f"{missing} of {len(doomed)} joins never reached the watcher")
        killed_at = time.monotonic_ns()
        node_a.process.signal(signal.SIGKILL)
        await _until(lambda: doomed <= watcher.left.keys(), HEARTBEAT_TIMEOUT + GRACE + LEAVE_SLACK)
        node_a.kill()  # reap
    finally:
        await close_all([watcher, *clients])
    left = [watcher.left[s] for s in doomed if s in watcher.left]
    return {
        "subscribers": len(doomed),
        "open_failed": opened.failed,
        "first_open_error": opened.first_error,
        "left": len(left),
        "not_left": len(doomed) - len(left),
        "first_s": round((min(left) - killed_at) / 1e9, 2) if left else None,
        "last_s": round((max(left) - killed_at) / 1e9, 2) if len(left) == len(doomed) else None,
        "heartbeat_timeout_s": HEARTBEAT_TIMEOUT,
        "grace_s": GRACE,
        "presence_heartbeat_s": 0.5,
        "expected_s": HEARTBEAT_TIMEOUT + GRACE,
    }
