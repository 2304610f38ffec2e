"""The public ``Client``: one resumable session kept alive over many connections.

One task (the runner) owns the connection life cycle: pick a node, connect,
serve until the connection ends, decide whether and when to come back. The
application's calls never touch a socket: they queue requests in the session's
outbox, which a sender task per connection writes and every new connection
re-sends, so a reconnect shows to them only as a longer wait.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Final, Self

import aiohttp

from haws.client.backoff import Backoff
from haws.client.connection import ConnectFailed, Connection, Ended, FrameHandler
from haws.client.cursors import GapCallback
from haws.client.endpoints import Endpoints
from haws.client.presence_tracker import ChangeCallback, MemberCallback, PresenceTracker
from haws.client.router import MessageStream
from haws.client.session import Session
from haws.client.types import (
    AuthenticationFailed,
    ClientClosed,
    PresenceAnswer,
    PresenceCounts,
    PubAck,
    SessionTakenOver,
    State,
    Stats,
)
from haws.protocol.client_frames import check_topic
from haws.protocol.codec import JSON, MSGPACK, Codec
from haws.protocol.errors import CLOSE_ADVICE, BadRequest, CloseCode

log = logging.getLogger(__name__)

StateCallback = Callable[[State], None]
CountsCallback = Callable[[PresenceCounts], None]
"""``on_counts(counts)`` (haws): a counts-only topic's new totals (see ``PresenceCounts``)."""
FrameTap = Callable[[dict[str, Any], int], None]
"""``on_frame(frame, connection)``, a wire tap for tests and debugging: every decoded
server frame as it came off the wire (the ``welcome`` first, duplicates included; not
``pong`` and ``reconnect``, which the connection consumes), before any check, and the
number of the connection that carried it (1 for the first welcomed connection)."""

_CODECS: Final[dict[str, Codec]] = {
    "json": JSON,
    "msgpack": MSGPACK,
    JSON.name: JSON,
    MSGPACK.name: MSGPACK,
}
_FATAL: Final[dict[int, type[ClientClosed]]] = {
    CloseCode.UNAUTHORIZED: AuthenticationFailed,
    CloseCode.TAKEN_OVER: SessionTakenOver,
}
DISCOVERY_TIMEOUT: Final = 2.0
"""Seconds a ``/v1/gateways`` refresh may add to a reconnect, at most."""


def fatal_error(code: int | None, reason: str = "") -> ClientClosed | None:
    """The error that ends the client for close ``code``; ``None`` when it should reconnect.

    ``CLOSE_ADVICE`` says which codes forbid reconnecting. A 1000 from a server
    is not among them here: the application did not ask to close, so a highly
    available client goes elsewhere.
    """
    if code is None or code == CloseCode.NORMAL:
        return None
    try:
        advice = CLOSE_ADVICE[CloseCode(code)]
    except ValueError:
        return None
    if advice.reconnect:
        return None
    return _FATAL.get(code, ClientClosed)(f"closed {code}: {reason or advice.meaning}")


def tapped(handler: FrameHandler, tap: Callable[[dict[str, Any]], None]) -> FrameHandler:
    """``handler`` with ``tap(frame)`` called first, before any check or dedupe."""

    async def on_frame(frame: dict[str, Any]) -> None:
        tap(frame)
        await handler(frame)

    return on_frame


class Client:
    """A haws client: reconnects, fails over, resumes, publishes idempotently.

    ``async with Client(urls) as client`` connects on enter and closes on exit.
    See ``docs/sdk-python.md`` for the delivery model and every setting.
    """

    def __init__(
        self,
        urls: Sequence[str] | str,
        *,
        codec: str = "json",
        batch: bool = True,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        ping_interval: float | None = 2.0,
        ping_timeout: float = 2.0,
        connect_timeout: float = 5.0,
        request_timeout: float = 5.0,
        outbox_limit: int = 10_000,
        max_frame_bytes: int = 65_536,
        queue_size: int = 1000,
        discover: bool = True,
        on_state: StateCallback | None = None,
        on_gap: GapCallback | None = None,
        on_frame: FrameTap | None = None,
        on_counts: CountsCallback | None = None,
        token: str | None = None,
        session: str | None = None,
    ) -> None:
        if codec not in _CODECS:
            raise ValueError(f"codec must be 'json' or 'msgpack', not {codec!r}")
        self._endpoints = Endpoints([urls] if isinstance(urls, str) else urls)
        self._codec = _CODECS[codec]
        self._batch = batch
        self._backoff = Backoff(backoff_base, backoff_cap)
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._connect_timeout = connect_timeout
        if request_timeout <= 0:
            raise ValueError("request_timeout must be > 0")
        self._request_timeout = request_timeout
        self._discover = discover
        self._on_state = on_state
        self._on_gap = on_gap
        self._on_frame = on_frame
        self._connections = 0  # welcomed connections, numbering what on_frame sees
        self._token = token
        self._session = Session(
            codec=self._codec,
            max_frame_bytes=max_frame_bytes,
            outbox_limit=outbox_limit,
            queue_size=queue_size,
            on_gap=self._report_gap,
            session=session,
            on_counts=(lambda counts: self._notify(on_counts, counts)) if on_counts else None,
        )
        self._state = State.IDLE
        self._state_changed = asyncio.Event()
        self._error: ClientClosed | None = None
        self._runner: asyncio.Task[None] | None = None

    # -- what the application can look at ---------------------------------------

    @property
    def state(self) -> State:
        return self._state

    @property
    def session(self) -> str | None:
        """The session id the gateway gave (kept across reconnects)."""
        return self._session.id

    @property
    def node(self) -> str | None:
        """The gateway node connected to now (``None`` while disconnected)."""
        conn = self._session.conn
        return conn.node if conn is not None else None

    @property
    def url(self) -> str | None:
        conn = self._session.conn
        return conn.url if conn is not None else None

    @property
    def urls(self) -> list[str]:
        """Every URL known: the seeds, then the nodes discovery found."""
        return self._endpoints.urls

    @property
    def topics(self) -> list[str]:
        return [topic for topic, _ in self._session.cursors.items()]

    @property
    def pending(self) -> int:
        """Requests (publishes, subscriptions) sent or queued, waiting for their reply."""
        return len(self._session.outbox)

    @property
    def error(self) -> ClientClosed | None:
        """Why the client closed itself (4001, 4009), if it did."""
        return self._error

    @property
    def stats(self) -> Stats:
        """A snapshot of the counters."""
        cursors = self._session.cursors
        return dataclasses.replace(
            self._session.stats, duplicates_dropped=cursors.duplicates, gaps=cursors.gaps
        )

    # -- requests ----------------------------------------------------------------

    async def publish(self, topic: str, data: Any, *, mid: str | None = None) -> PubAck:
        """Store ``data`` on ``topic``; returns once the broker stored it durably.

        Sent again after every reconnect (and after an ``unavailable`` refusal)
        with the same ``mid`` (a fresh uuid4 hex when not given) until acked, so
        it is stored once within the stream's duplicate window (2 minutes).
        Raises ``OutboxFull`` when ``outbox_limit`` publishes already wait, and
        the gateway's error (``BadRequest``, ``TooLarge``, ...) for a final refusal.
        Cancelling the call stops the re-sends (the message may be stored or not).
        """
        self._check_open()
        return await self._session.publish(topic, data, mid)

    async def subscribe(
        self, topic: str, *, since: int | None = None, presence: bool = False
    ) -> None:
        """Subscribe; returns after the gateway's ``ok``.

        ``since`` None: from now on; 0: all retained history; N: everything after
        seq N. The subscription is restored on every reconnect after its cursor.
        Subscribing a topic already subscribed does nothing.
        """
        self._check_open()
        await self._session.subscribe(topic, since, presence)

    async def presence(self, topic: str, *, timeout: float | None = None) -> PresenceAnswer:
        """Who is on ``topic`` now (one ``presence`` request; no subscription needed).

        On a counts-only topic (haws) ``members`` is a bounded sample and
        ``count``/``users`` the totals. Raises the gateway's error (``Unavailable``
        when the presence service is down: not retried, ask again later;
        ``Forbidden`` without a ``sub`` grant) and ``TimeoutError`` after
        ``timeout`` (default ``request_timeout``), waiting for a connection included.
        """
        self._check_open()
        return await self._session.presence(
            topic, self._request_timeout if timeout is None else timeout
        )

    async def track_presence(
        self,
        topic: str,
        *,
        on_change: ChangeCallback | None = None,
        on_join: MemberCallback | None = None,
        on_leave: MemberCallback | None = None,
        on_counts: CountsCallback | None = None,
    ) -> PresenceTracker:
        """A ``PresenceTracker`` of ``topic``: its members kept current.

        Subscribes ``topic`` with ``presence=True`` unless it already is (so this
        client is a member too, and the topic's messages flow as for
        ``subscribe``), then returns once the first snapshot was answered or
        failed (``tracker.synced`` says which; a failed one is asked again with
        backoff). ``unsubscribe(topic)`` or ``tracker.close()`` ends it.
        """
        self._check_open()
        check_topic(topic, None)
        state = self._session.cursors.get(topic)
        if state is not None and not state.presence:
            raise BadRequest(f"{topic} is subscribed without presence: unsubscribe it first")
        tracker = PresenceTracker(
            topic,
            self._snapshot,
            on_change=on_change,
            on_join=on_join,
            on_leave=on_leave,
            on_counts=on_counts,
            on_close=self._session.untrack,
        )
        self._session.track(tracker)
        try:
            await self._session.subscribe(topic, None, True)
            if not tracker.syncing and not tracker.synced:  # subscribed already: no `ok`
                tracker.refresh()
            await tracker.wait_attempted()
        except BaseException:
            await tracker.close()
            raise
        return tracker

    async def _snapshot(self, topic: str) -> PresenceAnswer:
        """A tracker's query: ``ClientClosed`` once the client closed, so it stops asking."""
        self._check_open()
        return await self._session.presence(topic, self._request_timeout)

    async def unsubscribe(self, topic: str) -> None:
        """End the subscription (and its presence trackers); messages already queued
        for iterators stay there."""
        self._check_open()
        await self._session.unsubscribe(topic)

    def messages(self) -> MessageStream:
        """Messages of every topic that has no ``subscription()`` iterator open.

        Several ``messages()`` iterators share one queue (each message goes to one).
        """
        return self._session.router.messages()

    def subscription(self, topic: str) -> MessageStream:
        """An iterator of ``topic``'s messages from now on (open it before ``subscribe``
        so none goes to ``messages()`` instead); ``close()`` it when done."""
        check_topic(topic, None)
        return self._session.router.subscription(topic)

    def _check_open(self) -> None:
        if self._state is State.CLOSED:
            raise self._error or ClientClosed("client closed")

    # -- life cycle --------------------------------------------------------------

    def start(self) -> None:
        """Start connecting in the background; requests queue until connected."""
        self._check_open()
        if self._runner is None:
            self._set_state(State.CONNECTING)
            self._runner = asyncio.create_task(self._run(), name="haws client")

    async def connect(self, timeout: float | None = None) -> None:
        """Start and wait for the first connection (``timeout`` defaults to
        ``connect_timeout``); on failure the client is closed and the error raised."""
        self.start()
        try:
            await self.wait_connected(self._connect_timeout if timeout is None else timeout)
        except BaseException:
            await self.close()
            raise

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Until connected; ``TimeoutError`` after ``timeout``, the close reason if closed."""
        async with asyncio.timeout(timeout):
            while True:
                if self._state is State.CONNECTED:
                    return
                self._check_open()
                await self._state_changed.wait()

    async def close(self) -> None:
        """Stop every task, close the connection, end waits and iterators."""
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
        await self._session.close_trackers()
        self._finish(None)

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _set_state(self, state: State) -> None:
        if state is self._state:
            return
        self._state = state
        changed, self._state_changed = self._state_changed, asyncio.Event()
        changed.set()
        self._notify(self._on_state, state)

    def _notify(self, callback: Callable[..., None] | None, *args: Any) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:
            log.exception("haws client callback %r failed", callback)

    def _report_gap(self, topic: str, expected_prev: int, got_prev: int) -> None:
        log.warning("gap on %s: expected prev %d, got %d", topic, expected_prev, got_prev)
        self._notify(self._on_gap, topic, expected_prev, got_prev)

    def _finish(self, error: ClientClosed | None) -> None:
        if self._state is State.CLOSED:
            return
        self._error = error
        self._session.close(error)
        self._set_state(State.CLOSED)

    async def _run(self) -> None:
        """Connect, serve, and come back until closed or told never to."""
        avoid: str | None = None
        delay = 0.0
        try:
            async with aiohttp.ClientSession() as http:
                while True:
                    if delay > 0:
                        await asyncio.sleep(delay)
                    if self._discover:
                        await self._endpoints.refresh(
                            http, avoid, min(DISCOVERY_TIMEOUT, self._connect_timeout)
                        )
                    url = self._endpoints.pick(avoid)
                    avoid = url  # whatever happens next, the next attempt prefers another node
                    try:
                        ended = await self._connect_and_serve(http, url)
                    except ConnectFailed as exc:
                        ended = Ended(code=exc.code, reason=exc.reason)
                        log.info("cannot connect to %s: %s", url, exc.reason)
                    fatal = fatal_error(ended.code, ended.reason)
                    if fatal is not None:
                        log.warning("%s: not reconnecting", fatal)
                        self._finish(fatal)
                        return
                    if self._state is State.CONNECTED:
                        self._set_state(State.RECONNECTING)
                    if ended.code == CloseCode.TOO_LARGE:
                        self._session.fail_largest_publish()
                    # The gateway's own delay (drain, spread by the node) replaces the backoff.
                    if ended.reconnect_delay is not None:
                        delay = ended.reconnect_delay
                    else:
                        delay = self._backoff.next()
        except Exception as exc:
            log.exception("haws client runner failed")
            self._finish(ClientClosed(f"client failed: {exc!r}"))

    async def _connect_and_serve(self, http: aiohttp.ClientSession, url: str) -> Ended:
        """One connection from ``hello`` to its end; the sender task dies with it."""
        hello = self._session.hello(batch=self._batch, token=self._token)
        conn = await Connection.open(http, url, self._codec, hello, timeout=self._connect_timeout)
        self._backoff.reset()
        self._session.attach(conn)
        log.info("connected to %s (node %s)", conn.url, conn.node)
        self._connections += 1
        on_frame: FrameHandler = self._session.on_frame
        if self._on_frame is not None:
            number, tap = self._connections, self._on_frame
            self._notify(tap, conn.welcome, number)
            on_frame = tapped(on_frame, lambda frame: self._notify(tap, frame, number))
        self._set_state(State.CONNECTED)
        sender = asyncio.create_task(self._session.send_loop(conn), name=f"haws sender {url}")
        try:
            ended = await conn.run(
                on_frame,
                ping_interval=self._ping_interval,
                ping_timeout=self._ping_timeout,
            )
        finally:
            self._session.detach()
            sender.cancel()
            (result,) = await asyncio.gather(sender, return_exceptions=True)
            if isinstance(result, Exception):
                log.error("sender to %s failed", url, exc_info=result)
        log.info("connection to %s ended: %s", url, ended)
        return ended
