"""Gateways simulated over NATS, and a recorder of what presence publishes.

A ``GatewayDouble`` speaks the presence contract exactly as a gateway node
does (claims, events, heartbeats, queries) without any WebSocket; the
``Recorder`` keeps every join/leave on ``haws.pres.>`` and every command on
``haws.ctl.gateway.>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import nats.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.kv import KeyValue

from haws.cluster import HawsService
from haws.cluster.services import backend_service
from haws.common import names
from haws.common import presence_protocol as pp
from haws.common.tasks import stop_task
from haws.presence.node import PresenceNode, run_presence
from haws.presence.settings import PresenceSettings
from tests.support.service_runner import RunningService, running_service
from tests.support.waiting import eventually

T = TypeVar("T")

FAST = {
    "heartbeat_timeout": 1.0,
    "grace": 1.0,
    "node_dead_grace": 1.0,
    "leader_ttl": 1.0,
    "sweep_interval": 0.05,
}
"""Short timings for tests: a dead node's sessions leave ~2 s after its last beat."""
FAST_FLAGS = [f"--{k.replace('_', '-')}={v}" for k, v in FAST.items()]


def presence_settings(nats_url: str, **overrides: Any) -> PresenceSettings:
    # Per-member join/leave at any size: these tests count each one (a thousand on
    # one topic in one of them). Counts-only mode has its own tests, which override it.
    values: dict[str, Any] = {
        "nats_url": (nats_url,),
        "http_port": 0,
        "presence_counts_from": 0,
        **FAST,
    }
    values.update(overrides)
    if "grace" in overrides and "node_dead_grace" not in overrides:
        # One grace for every way of going offline, unless a test sets both.
        values["node_dead_grace"] = overrides["grace"]
    return PresenceSettings(**values)


def replica(data_dir: Path, nats_url: str, name: str, extra: Sequence[str] = ()) -> HawsService:
    """A presence replica as a process, launched as ``haws up`` launches it."""
    return backend_service(
        data_dir,
        "presence",
        name=name,
        nats_url=nats_url,
        extra_args=["--name", name, *FAST_FLAGS, *extra],
    )


async def start(*replicas: HawsService) -> None:
    await asyncio.gather(*(asyncio.to_thread(r.start, 30.0) for r in replicas))


async def until_answered(request: Callable[[], Awaitable[T]], ok: Callable[[T], bool]) -> T:
    """Retry as a gateway would after a reply lost with a dead replica (bounded)."""
    for _ in range(20):
        with contextlib.suppress(nats.errors.TimeoutError, nats.errors.NoRespondersError):
            answer = await request()
            if ok(answer):
                return answer
    raise AssertionError("presence never answered")


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Held:
    """A connection that claimed a session: what its events must carry."""

    session: str
    conn: str
    epoch: int
    previous_node: str | None


class GatewayDouble:
    def __init__(self, nc: NatsClient, node: str | None = None) -> None:
        self.nc = nc
        self.node = node or unique("gw-")

    async def _request(self, subject: str, message: Any, reply: type[T], timeout: float = 3.0) -> T:
        response = await self.nc.request(subject, pp.encode(message), timeout=timeout)
        return pp.decode(reply, response.data)

    async def claim(
        self, session: str, *, user: str | None = None, topics: Iterable[str] = ()
    ) -> Held:
        conn = unique("c-")
        claim = pp.Claim(session, self.node, conn, user, list(topics))
        reply = await self._request(names.PRESENCE_CLAIM, claim, pp.ClaimReply)
        assert reply.epoch > 0, reply
        return Held(session, conn, reply.epoch, reply.previous_node)

    async def event(
        self, kind: Literal["sub", "unsub", "close"], held: Held, topic: str | None = None
    ) -> pp.EventReply:
        event = pp.Event(kind, held.session, self.node, held.conn, held.epoch, topic)
        return await self._request(names.PRESENCE_EVENT, event, pp.EventReply)

    async def sub(self, held: Held, topic: str) -> None:
        assert (await self.event("sub", held, topic)).ok

    async def unsub(self, held: Held, topic: str) -> None:
        assert (await self.event("unsub", held, topic)).ok

    async def close(self, held: Held) -> None:
        assert (await self.event("close", held)).ok

    async def heartbeat(self, sessions: Iterable[str] = ()) -> pp.HeartbeatReply:
        beat = pp.Heartbeat(self.node, 0, list(sessions))
        return await self._request(names.PRESENCE_HEARTBEAT, beat, pp.HeartbeatReply)

    async def query(self, topic: str) -> list[dict[str, Any]]:
        reply = await self._request(names.PRESENCE_QUERY, pp.Query(topic), pp.QueryReply)
        return reply.members

    async def members(self, topic: str) -> set[str]:
        return {m["session"] for m in await self.query(topic)}

    async def members_soon(self, topic: str, timeout: float = 5.0) -> set[str]:
        """The members, asking again if a request went to a replica that just died."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                query = pp.Query(topic)
                reply = await self._request(names.PRESENCE_QUERY, query, pp.QueryReply, 0.5)
                return {m["session"] for m in reply.members}
            except nats.errors.TimeoutError:
                if asyncio.get_running_loop().time() > deadline:
                    raise

    @contextlib.asynccontextmanager
    async def beating(self, interval: float = 0.2) -> AsyncIterator[None]:
        """Heartbeat every ``interval`` until the block ends (a node that is alive)."""

        async def beat() -> None:
            while True:
                with contextlib.suppress(nats.errors.Error):
                    await self.heartbeat()
                await asyncio.sleep(interval)  # the heartbeat period, not a synchronisation

        task = asyncio.create_task(beat())
        try:
            yield
        finally:
            # Cancelled again until done: a cancel can be swallowed by nats-py's
            # request (asyncio.wait_for on 3.11) and the loop would beat forever.
            await stop_task(task)


@dataclass
class Recorder:
    """Everything presence publishes to gateways, in arrival order."""

    changes: list[pp.Change] = field(default_factory=list)
    takeovers: list[tuple[str, pp.Takeover]] = field(default_factory=list)

    async def start(self, nc: NatsClient) -> None:
        async def on_change(msg: Msg) -> None:
            self.changes.append(pp.decode(pp.Change, msg.data))

        async def on_control(msg: Msg) -> None:
            node = msg.subject[len(names.gateway_control_subject("")) :]
            self.takeovers.append((node, pp.decode(pp.Takeover, msg.data)))

        await nc.subscribe(names.PRESENCE_CHANGES_PREFIX + ">", cb=on_change)
        await nc.subscribe(names.gateway_control_subject(">"), cb=on_control)
        await nc.flush()

    def of(self, session: str, topic: str | None = None) -> list[str]:
        """The kinds of change seen for ``session`` (on ``topic``), in order."""
        return [
            c.kind
            for c in self.changes
            if c.session == session and (topic is None or c.topic == topic)
        ]

    def on(self, topic: str) -> list[pp.Change]:
        """Changes of one topic (other tests' sessions may be expiring meanwhile)."""
        return [c for c in self.changes if c.topic == topic]

    def distinct(self, topic: str) -> list[tuple[str, str, int]]:
        """Changes on ``topic`` with re-sends (same kind, session and revision) dropped."""
        return list(dict.fromkeys((c.kind, c.session, c.revision) for c in self.on(topic)))

    async def wait(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        await eventually(predicate, timeout=timeout, message="presence change")

    async def wait_for(self, kind: str, session: str, timeout: float = 10.0) -> None:
        await self.wait(lambda: kind in self.of(session), timeout)


@dataclass
class ReplicaPair:
    """Two presence replicas in this event loop, once one of them leads."""

    services: list[RunningService[PresenceNode]]
    leader: int

    @property
    def nodes(self) -> list[PresenceNode]:
        return [s.value for s in self.services]

    @property
    def follower(self) -> PresenceNode:
        return self.nodes[1 - self.leader]


async def replica_pair(
    stack: contextlib.AsyncExitStack, nats_url: str, **overrides: Any
) -> ReplicaPair:
    services = [
        await stack.enter_async_context(
            running_service(
                run_presence, presence_settings(nats_url, name=unique("r-"), **overrides)
            )
        )
        for _ in range(2)
    ]
    nodes: list[PresenceNode] = [s.value for s in services]
    await eventually(lambda: sum(n.leadership.leading for n in nodes) == 1, timeout=5)
    leader = next(i for i, n in enumerate(nodes) if n.leadership.leading)
    return ReplicaPair(services, leader)


class ClaimStorm:
    """Sessions claimed and subscribed to a topic as a gateway would, many at once,
    retrying what a dead replica left unanswered; ``third`` is set a third of the way."""

    def __init__(
        self, client: NatsClient, node: str, topic: str, sessions: int, in_flight: int
    ) -> None:
        self._client = client
        self.node = node
        self.topic = topic
        self.sessions = [unique(f"st{i}-") for i in range(sessions)]
        self.owners: dict[str, tuple[str, int]] = {}
        """Each session's connection and epoch, once claimed and subscribed."""
        self.third = asyncio.Event()
        self._slots = asyncio.Semaphore(in_flight)

    async def request(self, message: pp.Claim | pp.Event, reply: type[T]) -> T:
        subject = names.PRESENCE_CLAIM if isinstance(message, pp.Claim) else names.PRESENCE_EVENT
        raw = await self._client.request(subject, pp.encode(message), timeout=1.0)
        return pp.decode(reply, raw.data)

    async def connect(self, session: str) -> None:
        async with self._slots:
            conn = unique("c-")
            claim = pp.Claim(session, self.node, conn)
            claimed = await until_answered(
                lambda: self.request(claim, pp.ClaimReply), lambda r: r.epoch > 0
            )
            sub = pp.Event("sub", session, self.node, conn, claimed.epoch, self.topic)
            await until_answered(lambda: self.request(sub, pp.EventReply), lambda r: r.ok)
            self.owners[session] = (conn, claimed.epoch)
            if len(self.owners) == len(self.sessions) // 3:
                self.third.set()

    async def run(self) -> None:
        await asyncio.gather(*(self.connect(s) for s in self.sessions))

    async def close(self, session: str) -> None:
        conn, epoch = self.owners[session]
        event = pp.Event("close", session, self.node, conn, epoch)
        await until_answered(lambda: self.request(event, pp.EventReply), lambda r: r.ok)

    async def assert_owned_once(self, kv: KeyValue) -> None:
        """Every session owned by the connection that claimed it, online, on the topic."""
        for session in self.sessions:
            entry = await kv.get(names.presence_owner_key(session))
            assert entry.value is not None
            record = pp.decode(pp.OwnerRecord, entry.value)
            conn, epoch = self.owners[session]
            assert (record.node, record.conn, record.epoch) == (self.node, conn, epoch)
            assert record.online
            assert record.topics == [self.topic]
