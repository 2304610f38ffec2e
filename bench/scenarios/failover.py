"""Failover: SIGKILL a gateway holding subscribed clients during a steady stream.

``failover_gateways`` gateways (3: the issue's target) and a replay replica, with
the presence service and without. ``failover-N``: N clients spread round-robin
over the gateways (issue 14: "2,500 subscribed clients ... spread over 3
gateways"; the killed one holds a third), the publisher on the last one at a
fixed rate. Gateway A (the first) is killed: at the kill the target is the last
seq acked so far; every client of A, as its socket drops, reconnects with
``hello {session, cursors}`` to a surviving gateway, spread round-robin over
them as a load balancer would (at most ``connect_concurrency`` handshakes at a
time, no back-off); the clients of the other gateways only have to keep
receiving (they count in lost/duplicates, on the load generator's cheap path).
A client has *caught up* once it got ``recovered`` for the topic and holds the
target seq. Figures: time from the kill until caught up (p50/p99/max; a client
never caught up counts at the end of the observation), clients of A whose
``welcome`` did not say ``resumed: true``, and messages lost and duplicated,
counted at the wire.
With presence on, the clients subscribe with ``presence: true`` and the bench
listens to the topic's join/leave changes from the kill until the presence
service would have emitted the leave of a session that did not resume (its
dead-node timeout + the grace of a dead node's sessions + a sweep, 3 + 15 +
0.25 s by default, plus ``LEAVE_MARGIN``), whatever the size's
``failover_after_kill``:
``presence flaps`` counts a leave or join of a session of A's clients (0 when
every resume kept its membership; a watch that ended earlier would count 0
for sessions that in fact left).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
import time
from collections.abc import Callable
from typing import Any, cast

import nats
from nats.aio.msg import Msg

from bench.figures import Figure, why
from bench.lab import HAWS_DIALECTS, Lab, Profile, haws_variants
from bench.loadgen.dialects import Dialect
from bench.loadgen.flow import Flow
from bench.loadgen.peer import Reply
from bench.loadgen.subscriber import Subscriber
from bench.loadgen.tally import summarize
from bench.part_meter import CpuSplit
from bench.profiler import Recording
from bench.scenarios.traffic import (
    TopicLoad,
    accounting,
    drain,
    new_topic,
    setup_topic,
    teardown,
)
from bench.systems import Skipped
from bench.usage import CpuMeter
from haws.common import names
from haws.common import presence_protocol as pp

NAME = "failover"
RETRY_DELAY = 0.1
LEAVE_MARGIN = 1.5
"""Seconds the presence watch goes on past the moment an unresumed session leaves."""
JOIN_WAIT = 20.0
"""Bound on the wait, before the kill, for the set-up's joins to be seen."""


def leave_deadline() -> float:
    """Seconds after a node's death by which presence has emitted its sessions' leave
    (the replica's defaults: the bench starts it without those flags)."""
    from haws.presence.settings import PresenceSettings

    defaults = {f.name: f.default for f in dataclasses.fields(PresenceSettings)}
    parts = ("heartbeat_timeout", "node_dead_grace", "sweep_interval")
    return sum(cast(float, defaults[k]) for k in parts)


class ResumingSubscriber(Subscriber):
    """Reconnects to ``fallback`` with its session and cursor once ``armed``."""

    use_scanner = False  # every msg must reach on_frames to time the catch-up

    def __init__(self, dialect: Dialect, *, topic: str, flow: Flow) -> None:
        super().__init__(dialect, flow=flow)
        self.topic = topic
        self.fallback = ""
        self.slots: asyncio.Semaphore | None = None
        self.deadline = 0.0
        self.target = 0
        self.armed = False
        self.resumed: bool | None = None
        self.cut_at = self.welcome_at = self.recovered_at = self.caught_up_at = 0
        self.resume_error: str | None = None
        self.on_caught_up: Callable[[], None] = lambda: None
        self._task: asyncio.Task[None] | None = None

    def arm(
        self,
        fallback: str,
        target: int,
        slots: asyncio.Semaphore,
        deadline: float,
        on_caught_up: Callable[[], None],
    ) -> None:
        self.fallback, self.target, self.slots, self.deadline = fallback, target, slots, deadline
        self.on_caught_up = on_caught_up
        self.armed = True

    def on_closed(self, conn: Any) -> None:
        super().on_closed(conn)
        if self.armed and not self.cut_at:
            self.cut_at = time.monotonic_ns()
            self._task = asyncio.get_running_loop().create_task(self._resume())

    async def _resume(self) -> None:
        assert self.slots is not None
        loop = asyncio.get_running_loop()
        while loop.time() < self.deadline:
            async with self.slots:
                try:
                    welcome = await self.connect(
                        self.fallback,
                        session=self.session,
                        cursors={self.topic: self.tally.last},
                        timeout=max(0.1, self.deadline - loop.time()),
                    )
                except Exception as exc:  # retried until the deadline, then reported
                    self.resume_error = f"{type(exc).__name__}: {exc}"
                else:
                    self.welcome_at = time.monotonic_ns()
                    self.resumed = bool(welcome.get("resumed"))
                    return
            await asyncio.sleep(RETRY_DELAY)

    def on_control(self, reply: Reply, now: int) -> None:
        if reply.get("op") == "recovered" and self.cut_at:
            self.recovered_at = now
        super().on_control(reply, now)
        self._check(now)

    def on_frames(self, conn: Any, received: list[tuple[int, bytes]], now: int) -> None:
        super().on_frames(conn, received, now)
        if self.recovered_at and not self.caught_up_at:
            self._check(now)

    def _check(self, now: int) -> None:
        if self.recovered_at and not self.caught_up_at and self.tally.last >= self.target:
            self.caught_up_at = now
            self.on_caught_up()


def run(lab: Lab) -> list[Figure]:
    figures: list[Figure] = []
    for n in lab.sizes.failover_clients:
        for system, presence in haws_variants():
            if lab.wants(system):
                figures += _one(lab, n, system, presence)
    if lab.options.profile and lab.wants("haws"):
        _profile(lab, max(lab.sizes.failover_clients))
    return figures


def _one(lab: Lab, n: int, system: str, presence: bool) -> list[Figure]:
    scenario = f"{NAME}-{n}"
    print(f"  {scenario} {system} ...", flush=True)
    try:
        with lab.haws(gateways=lab.sizes.failover_gateways, replay=True, presence=presence) as st:
            details = lab.run(_measure(lab, st, n))
    except Exception as exc:  # reported in the table, the run goes on
        return [
            Figure(scenario, metric, system, None, unit, better="lower", skipped=why(exc))
            for metric, unit in (("caught up p99", "ms"), ("lost", "msgs"))
        ]
    caught = details["caught_up_ms"]
    figures = [
        Figure(scenario, f"caught up {k}", system, caught[k], "ms", better="lower", details=details)
        for k in ("p50", "p99", "max")
    ]
    counted = {"not caught up": "not_caught_up", "not resumed": "not_resumed"}
    for metric, unit in (
        ("not caught up", "clients"),
        ("not resumed", "clients"),
        ("lost", "msgs"),
        ("duplicates", "msgs"),
    ):
        value = details[counted.get(metric, metric)]
        figures.append(
            Figure(scenario, metric, system, value, unit, better="lower", details=details)
        )
    if presence:
        flaps = details.get("presence_flaps")
        figures.append(
            Figure(scenario, "presence flaps", system, flaps, "changes", "lower", details=details)
        )
    return figures


def _profile(lab: Lab, n: int) -> None:
    """py-spy on gateway B, which takes half of A's clients over, from the kill on."""
    scenario = f"{NAME}-{n}"
    print(f"  {scenario} haws (gateway B) under py-spy ...", flush=True)
    try:
        with lab.haws(gateways=lab.sizes.failover_gateways, replay=True) as stack:
            pid = stack.gateways[1].pid
            if pid is None:
                raise Skipped("gateway B has no pid")
            recording = Recording(pid, lab.data_dir / "profile-failover")
            lab.run(_measure(lab, stack, n, recording))
            summary = recording.finish()
    except Exception as exc:  # reported in the table, the run goes on
        summary = {"skipped": why(exc)}
    lab.profiles.append(Profile(scenario, "haws gateway B", summary))


async def _measure(
    lab: Lab, stack: Any, n: int, recording: Recording | None = None
) -> dict[str, Any]:
    sizes = lab.sizes
    node_a = stack.gateways[0]
    urls = stack.gateway_urls()
    survivors = urls[1:] or urls
    dialect = Dialect(presence=True) if stack.presence else HAWS_DIALECTS["haws"]
    topic = new_topic(NAME)

    built = 0

    def make(d: Dialect, flow: Flow) -> Subscriber:
        # setup_topic spreads subscriber i over urls[i % len(urls)]: A holds every
        # len(urls)-th, and only those have to watch every frame (the others take
        # the load generator's cheap path, so it does not become the limit).
        nonlocal built
        built += 1
        if (built - 1) % len(urls) == 0:
            return ResumingSubscriber(d, topic=topic, flow=flow)
        return Subscriber(d, flow=flow)

    # The watch starts before the set-up, so that every client's join can be seen:
    # a join still in flight at the kill would otherwise count as a flap.
    watcher = await nats.connect(stack.infra.nats.url) if stack.presence else None
    changes: list[pp.Change] = []
    joins_before: list[int] = []

    def set_up_done() -> None:  # the joins of the set-up are not flaps, but prove we listen
        joins_before.append(len({c.session for c in changes if c.kind == "join"}))
        changes.clear()

    async def on_change(msg: Msg) -> None:
        changes.append(pp.decode(pp.Change, msg.data))

    load: TopicLoad | None = None
    try:
        if watcher is not None:
            await watcher.subscribe(names.presence_changes_subject(topic), cb=on_change)
            await watcher.flush()
        load = await setup_topic(dialect, topic, n, urls, urls[-1], sizes, make=make)
        subs = [s for s in load.subscribers if isinstance(s, ResumingSubscriber)]
        if watcher is not None:
            await _all_joined(load, changes, JOIN_WAIT)
        details = await _kill_and_watch(
            lab, stack, node_a, survivors, load, subs, recording, before_kill=set_up_done
        )
    finally:
        if load is not None:
            await teardown([load])
        if watcher is not None:
            await watcher.close()
    if stack.presence:
        moved = {s.session for s in subs}
        flaps = [c for c in changes if c.session in moved]
        details["presence_flaps"] = len(flaps)
        details["presence_changes_after_kill"] = len(changes)
        details["presence_joins_before_kill"] = joins_before[0] if joins_before else None
        details["presence_members_at_kill_expected"] = n
        details["first_flap"] = f"{flaps[0].kind} {flaps[0].session}" if flaps else None
    return details


async def _all_joined(load: TopicLoad, changes: list[pp.Change], timeout: float) -> None:
    """Until every subscriber's join was seen (or ``timeout``: the figure then shows
    fewer joins before the kill than clients, and late joins count as flaps)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    sessions = {s.session for s in load.subscribers}
    while loop.time() < deadline:
        if sessions <= {c.session for c in changes if c.kind == "join"}:
            return
        await asyncio.sleep(0.05)


async def _kill_and_watch(
    lab: Lab,
    stack: Any,
    node_a: Any,
    survivors: list[str],
    load: TopicLoad,
    subs: list[ResumingSubscriber],
    recording: Recording | None,
    *,
    before_kill: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    sizes = lab.sizes
    loop = asyncio.get_running_loop()
    until = loop.time() + sizes.failover_warmup + sizes.failover_after_kill
    publishing = asyncio.create_task(
        load.publisher.run_rate(sizes.failover_rate, until=until, max_messages=sizes.max_messages)
    )
    await asyncio.sleep(sizes.failover_warmup)
    meter = CpuMeter(stack.pids())
    gateways = {g.pid: f"gateway-{'ABCDEFGH'[i % 8]}" for i, g in enumerate(stack.gateways)}
    split = CpuSplit(stack.pids(), gateways)
    start = meter.sample()
    slots = asyncio.Semaphore(sizes.connect_concurrency)
    target = load.publisher.max_acked
    everyone = asyncio.Event()
    pending = len(subs)

    def caught_up() -> None:
        nonlocal pending
        pending -= 1
        if pending == 0:
            everyone.set()

    for i, sub in enumerate(subs):  # resumes go on trying through the drain below
        fallback = survivors[i % len(survivors)]
        sub.arm(fallback, target, slots, until + sizes.drain_timeout, caught_up)
    if recording is not None:
        recording.start(0.0, sizes.failover_after_kill)
    before_kill()
    killed_at = time.monotonic_ns()
    node_a.process.signal(signal.SIGKILL)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(everyone.wait(), max(0.0, until - loop.time()))
    end = meter.sample()
    split.stop()
    observed_ns = time.monotonic_ns()
    await publishing
    await drain([load], sizes.drain_timeout, closed_too=True)
    watched: dict[str, float] = {}
    if stack.presence:  # see the leave an unresumed session would get, or its absence
        watch_until = killed_at / 1e9 + leave_deadline() + LEAVE_MARGIN
        await asyncio.sleep(max(0.0, watch_until - time.monotonic()))
        watched["presence_watched_s"] = round((time.monotonic_ns() - killed_at) / 1e9, 1)
    for sub in subs:
        sub.armed = False  # closing at the end is not a failure to resume from
    node_a.kill()  # reap
    usage = meter.between(start, end)

    def after_kill(stamps: list[int]) -> dict[str, float]:
        return {k: round(v, 1) for k, v in summarize((t - killed_at) / 1e6 for t in stamps).items()}

    # A client not caught up when the observation ended counts at its end (a floor).
    caught_at = [s.caught_up_at if s.caught_up_at else observed_ns for s in subs]
    caught = [s.caught_up_at for s in subs if s.caught_up_at]
    wire = accounting([load])
    wire.pop("close_codes")
    wire["cut_by_the_kill"] = wire.pop("subscribers_closed")
    errors = [s.resume_error for s in subs if s.resume_error and not s.welcome_at]
    return {
        "clients": len(subs),
        "clients_total": len(load.subscribers),
        "gateways": len(stack.gateways),
        "resumed_over": len(survivors),
        "target_seq": target,
        "publish_rate": sizes.failover_rate,
        "caught_up": len(caught),
        "not_caught_up": len(subs) - len(caught),
        "caught_up_ms": after_kill(caught_at),
        "caught_up_ms_of_those_who_did": after_kill(caught),
        "observed_s": round((observed_ns - killed_at) / 1e9, 1),
        "reconnected_ms": after_kill([s.welcome_at for s in subs if s.welcome_at]),
        "resumed_true": sum(1 for s in subs if s.resumed),
        "not_resumed": sum(1 for s in subs if not s.resumed),
        "resume_errors": len(errors),
        "cpu_us_per_resumed_client": split.per_unit(len(subs)),
        "first_resume_error": errors[0] if errors else None,
        **watched,
        **wire,
        **usage.details(),
    }
