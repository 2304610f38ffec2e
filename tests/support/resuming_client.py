"""A raw protocol-v1 client that survives its node: reconnect, resume, retry, record.

It is what a careful client author would write from ``protocol.md`` alone, with
no SDK in between, so the e2e tests judge the cluster and not a library:

* when the connection closes it connects again to the same URL (HAProxy's), after
  the ``reconnect`` frame's ``delay`` or a short backoff, and sends ``hello`` with
  ``session`` and ``cursors`` (the last ``seq`` received per topic, or the ``ok.seq``
  of the subscription while nothing arrived yet);
* a ``pub`` not acked when its connection closed is sent again, with the same
  ``mid``, on the next connection;
* every frame is recorded as it came off the wire, with the number of the
  connection that carried it; it checks nothing itself (``assert_exactly_once``
  below does, from the record).

Every wait is bounded: connection attempts per reconnect, and the whole life
of the client by ``lifetime`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import aiohttp

Frame = dict[str, Any]
MAX_RECONNECT_DELAY = 2.0
"""Cap on the ``reconnect.delay`` a node asks for, so a test stays quick."""


@dataclass
class _Pending:
    topic: str
    data: Any
    mid: str
    acked: asyncio.Future[Frame]


@dataclass
class Connection:
    """One WebSocket connection of the client, as it went."""

    number: int
    node: str | None = None
    resumed: bool | None = None
    close_code: int | None = None
    ended_by_peer: bool = False
    """The server or the network ended it (not ``ResumingClient.close``)."""
    reconnect: Frame | None = None


@dataclass
class ResumingClient:
    url: str
    topics: Sequence[str] = ()
    name: str = "client"
    connect_attempts: int = 200
    """Attempts per reconnect (each refused or failed handshake counts one)."""
    lifetime: float = 120.0
    """Seconds after which the client gives up reconnecting."""

    session: str | None = None
    cursors: dict[str, int] = field(default_factory=dict)
    first_ok: dict[str, int] = field(default_factory=dict)
    """``ok.seq`` of each topic's first subscription: the ``prev`` of its first message."""
    wire: list[tuple[int, Frame]] = field(default_factory=list)
    msgs: dict[str, list[Frame]] = field(default_factory=lambda: defaultdict(list))
    connections: list[Connection] = field(default_factory=list)
    connect_failures: list[str] = field(default_factory=list)
    acks: list[Frame] = field(default_factory=list)
    resent: int = 0
    """Pubs sent again, same ``mid``, because their connection closed before the ack."""

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self._subs: dict[int, str] = {}
        self._pubs: dict[int, str] = {}
        self._pending: dict[str, _Pending] = {}
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._http: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._live = False  # the current connection has its welcome: pubs may go out
        self.ready = asyncio.Event()
        """Set while a connection has its welcome and every topic subscribed."""
        self.changed = asyncio.Event()
        """Set on every frame: ``wait_for`` re-checks its condition then."""

    # -- what tests read -------------------------------------------------------------

    @property
    def close_codes(self) -> list[int | None]:
        """Close codes of the connections the server (or the network) ended."""
        return [c.close_code for c in self.connections if c.ended_by_peer]

    @property
    def nodes(self) -> list[str | None]:
        return [c.node for c in self.connections]

    @property
    def node(self) -> str | None:
        """The node of the current (or last) connection."""
        return self.connections[-1].node if self.connections else None

    def ops(self) -> list[str]:
        return [frame.get("op", "?") for _, frame in self.wire]

    def frames(self, op: str) -> list[Frame]:
        return [frame for _, frame in self.wire if frame.get("op") == op]

    # -- life ------------------------------------------------------------------------

    async def start(self, timeout: float = 10.0) -> ResumingClient:
        """Connect, hello, subscribe every topic; returns once that is done."""
        self._http = aiohttp.ClientSession()
        self._deadline = asyncio.get_running_loop().time() + self.lifetime
        self._task = asyncio.create_task(self._run(), name=f"resuming {self.name}")
        await self.wait_for(self.ready.is_set, timeout, "first connection ready")
        return self

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None and not self._ws.closed:
            await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._http is not None:
            await self._http.close()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        """Until ``predicate()`` holds, re-checked on every frame; fails after ``timeout``."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    self.changed.clear()
                    if self._task is not None and self._task.done():
                        self._task.result()  # the client gave up: show why
                        raise AssertionError(f"{self.name} stopped")
                    with contextlib.suppress(TimeoutError):
                        # Also wake now and then: a predicate may not depend on frames.
                        await asyncio.wait_for(self.changed.wait(), 0.2)
        except TimeoutError:
            raise AssertionError(f"{self.name}: {what} not reached in {timeout} s") from None

    async def wait_msgs(self, topic: str, count: int, timeout: float = 10.0) -> None:
        await self.wait_for(lambda: len(self.msgs[topic]) >= count, timeout, f"{count} msgs")

    async def wait_seqs(self, topic: str, seqs: set[int], timeout: float = 20.0) -> None:
        """Until every seq in ``seqs`` arrived on ``topic`` (more may have come too)."""
        await self.wait_for(
            lambda: seqs <= {m["seq"] for m in self.msgs[topic]}, timeout, f"{len(seqs)} seqs"
        )

    async def wait_moved_off(self, node: str, timeout: float = 15.0) -> None:
        """Until the client is connected and ready on a node other than ``node``."""
        await self.wait_for(
            lambda: self.ready.is_set() and self.node != node, timeout, f"moved off {node}"
        )

    async def pub(self, topic: str, data: Any, mid: str, timeout: float = 15.0) -> Frame:
        """Publish until acked, across reconnects, always with the same ``mid``."""
        acked: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        pending = _Pending(topic, data, mid, acked)
        self._pending[mid] = pending
        if self._live and self._ws is not None:
            await self._send_pub(self._ws, pending)
        try:
            async with asyncio.timeout(timeout):
                return await acked
        finally:
            self._pending.pop(mid, None)

    # -- the connection loop ---------------------------------------------------------

    async def _run(self) -> None:
        while not self._closing:
            ws = await self._connect()
            conn = Connection(len(self.connections) + 1)
            self.connections.append(conn)
            self._ws = ws
            try:
                await self._send(ws, self._hello())
                await self._read(ws, conn)
            except (aiohttp.ClientError, ConnectionError):
                pass  # the connection broke while we wrote: reconnect like any close
            finally:
                self.ready.clear()
                self._live = False
                self._ws = None
                conn.close_code = ws.close_code
                conn.ended_by_peer = not self._closing
                self._subs.clear()
                self._pubs.clear()
                self.changed.set()
            if self._closing:
                return
            await self._pause(conn)

    def _hello(self) -> Frame:
        hello: Frame = {"op": "hello", "v": 1}
        if self.session is not None:
            hello["session"] = self.session
            hello["cursors"] = dict(self.cursors)
        return hello

    async def _pause(self, conn: Connection) -> None:
        """Wait what the node asked for (capped), else a short backoff."""
        if conn.reconnect is not None:
            await asyncio.sleep(min(conn.reconnect.get("delay", 0) / 1000, MAX_RECONNECT_DELAY))
        else:
            await asyncio.sleep(0.05)

    async def _connect(self) -> aiohttp.ClientWebSocketResponse:
        assert self._http is not None
        loop = asyncio.get_running_loop()
        for attempt in range(self.connect_attempts):
            if loop.time() > self._deadline:
                break
            try:
                return await self._http.ws_connect(self.url, max_msg_size=0)
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                self.connect_failures.append(f"{loop.time():.3f} {exc!r}")
                await asyncio.sleep(min(0.02 * (attempt + 1), 0.25))
        raise RuntimeError(f"{self.name}: no connection to {self.url} in {self.connect_attempts}")

    async def _send(self, ws: aiohttp.ClientWebSocketResponse, frame: Frame) -> None:
        await ws.send_str(json.dumps(frame))

    async def _send_pub(self, ws: aiohttp.ClientWebSocketResponse, pending: _Pending) -> None:
        rid = next(self._ids)
        self._pubs[rid] = pending.mid
        frame = {"op": "pub", "id": rid, "topic": pending.topic, "data": pending.data}
        with contextlib.suppress(aiohttp.ClientError, ConnectionError):
            await self._send(ws, {**frame, "mid": pending.mid})

    async def _read(self, ws: aiohttp.ClientWebSocketResponse, conn: Connection) -> None:
        while True:
            message = await ws.receive()
            if message.type != aiohttp.WSMsgType.TEXT:
                return  # close, closing, closed or error: the loop reconnects
            for line in message.data.split("\n"):
                if line:
                    await self._on_frame(ws, conn, json.loads(line))
            self.changed.set()

    async def _on_frame(
        self, ws: aiohttp.ClientWebSocketResponse, conn: Connection, frame: Frame
    ) -> None:
        self.wire.append((conn.number, frame))
        op = frame.get("op")
        if op == "msg":
            topic = frame["topic"]
            self.msgs[topic].append(frame)
            if frame["seq"] > self.cursors.get(topic, -1):
                self.cursors[topic] = frame["seq"]
        elif op == "welcome":
            self.session = frame["session"]
            conn.node = frame["node"]
            conn.resumed = frame["resumed"]
            await self._after_welcome(ws)
        elif op == "ok" and frame.get("id") in self._subs:
            topic = self._subs.pop(frame["id"])
            self.first_ok.setdefault(topic, frame["seq"])
            self.cursors.setdefault(topic, frame["seq"])
            self._check_ready()
        elif op == "ack" and frame.get("id") in self._pubs:
            self.acks.append(frame)
            pending = self._pending.get(self._pubs.pop(frame["id"]))
            if pending is not None and not pending.acked.done():
                pending.acked.set_result(frame)
        elif op == "reconnect":
            conn.reconnect = frame

    async def _after_welcome(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        # From here a new pub goes out at once; the ones already waiting go now, so
        # each unacked pub is sent exactly once per connection.
        self._live = True
        waiting = list(self._pending.values())
        # Topics with a cursor were in the hello: the node restores them itself.
        for topic in self.topics:
            if topic not in self.cursors:
                rid = next(self._ids)
                self._subs[rid] = topic
                await self._send(ws, {"op": "sub", "id": rid, "topic": topic})
        self.resent += len(waiting)
        for pending in waiting:
            await self._send_pub(ws, pending)
        self._check_ready()

    def _check_ready(self) -> None:
        if not self._subs:
            self.ready.set()


def assert_exactly_once(
    client: ResumingClient, topic: str, expected: Iterable[int], first_prev: int | None = None
) -> None:
    """Every expected ``seq`` arrived once, in order, with an unbroken ``prev`` chain.

    ``first_prev`` defaults to the ``ok.seq`` of the client's first subscription:
    the first message after it names that as its ``prev``.
    """
    got = [frame["seq"] for frame in client.msgs[topic]]
    want = sorted(set(expected))
    duplicates = sorted(seq for seq, n in Counter(got).items() if n > 1)
    assert not duplicates, f"{client.name}: duplicated seqs {duplicates[:10]}"
    missing = sorted(set(want) - set(got))
    assert not missing, f"{client.name}: missing {len(missing)} seqs, first {missing[:10]}"
    extra = sorted(set(got) - set(want))
    assert not extra, f"{client.name}: unexpected seqs {extra[:10]}"
    assert got == want, f"{client.name}: out of order"
    prev = client.first_ok.get(topic) if first_prev is None else first_prev
    for frame in client.msgs[topic]:
        if prev is not None:
            assert frame["prev"] == prev, f"{client.name}: chain broken at {frame}"
        prev = frame["seq"]


class StreamPublisher:
    """A steady stream of ``pub`` through one ``ResumingClient``, a few in flight at once.

    Keeping several pubs in flight makes it likely that a drain or a kill cuts
    one between the broker's store and its ``ack``: the client then retries it
    with the same ``mid`` on its next connection and the ack says ``dup``.
    Bounded by ``max_count``; the test bounds the time with ``stop``.
    """

    def __init__(
        self,
        client: ResumingClient,
        topic: str,
        *,
        interval: float = 0.01,
        in_flight: int = 4,
        max_count: int = 4000,
    ) -> None:
        self.client = client
        self.topic = topic
        self.interval = interval
        self.in_flight = in_flight
        self.max_count = max_count
        self.acked: dict[str, int] = {}
        """``mid`` -> ``seq`` of every acked pub."""
        self.stop = asyncio.Event()
        self._prefix = uuid4().hex[:8]

    @property
    def seqs(self) -> set[int]:
        return set(self.acked.values())

    @property
    def dups(self) -> int:
        return sum(1 for ack in self.client.acks if ack.get("dup"))

    async def _one(self, i: int, slots: asyncio.Semaphore) -> None:
        mid = f"{self._prefix}-{i}"
        try:
            self.acked[mid] = (await self.client.pub(self.topic, {"n": i}, mid))["seq"]
        finally:
            slots.release()

    async def run(self) -> None:
        slots = asyncio.Semaphore(self.in_flight)
        async with asyncio.TaskGroup() as group:
            for i in range(self.max_count):
                if self.stop.is_set():
                    return
                await slots.acquire()
                group.create_task(self._one(i, slots))
                await asyncio.sleep(self.interval)

    async def publish_more(self, count: int, timeout: float) -> None:
        """Wait until ``count`` more pubs than now are acked."""
        target = len(self.acked) + count
        await self.client.wait_for(lambda: len(self.acked) >= target, timeout, f"{count} more acks")
