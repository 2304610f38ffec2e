"""The public ``Client``: one logical session kept alive over many connections.

One task (the runner) owns the connection life cycle: pick a node, connect,
serve until the connection ends, decide whether and when to come back. The
application's calls never touch the socket themselves: they queue requests in
the outbox, which a sender task per connection writes and every new connection
re-sends, so a reconnect is invisible to them apart from the wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import uuid
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Final, Self

import aiohttp

from haws.client.backoff import Backoff, full_jitter
from haws.client.connection import ConnectFailed, Connection, Ended
from haws.client.cursors import Cursors, GapCallback, Verdict
from haws.client.endpoints import Endpoints
from haws.client.outbox import Outbox, Request
from haws.client.router import MessageStream, Router
from haws.client.types import (
    AuthenticationFailed,
    ClientClosed,
    ClientError,
    Message,
    PubAck,
    SessionTakenOver,
    State,
    Stats,
    error_of,
)
from haws.common.codec import JSON, MSGPACK, Codec
from haws.common.errors import CLOSE_ADVICE, BadRequest, CloseCode, Unavailable
from haws.common.protocol import PROTOCOL_VERSION, check_topic

log = logging.getLogger(__name__)

StateCallback = Callable[[State], None]

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
RETRY_BASE: Final = 0.1
"""Seconds: first ceiling of the backoff before re-sending a request refused as ``unavailable``."""
RETRY_CAP: Final = 2.0
DISCOVERY_TIMEOUT: Final = 2.0
"""Seconds a ``/v1/gateways`` refresh may add to a reconnect, at most."""


def _fatal_error(code: int | None, reason: str) -> ClientClosed | None:
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
        outbox_limit: int = 10_000,
        queue_size: int = 1000,
        discover: bool = True,
        on_state: StateCallback | None = None,
        on_gap: GapCallback | None = None,
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
        self._discover = discover
        self._on_state = on_state
        self._on_gap = on_gap
        self._token = token
        self._session = session

        self._cursors = Cursors(on_gap=self._report_gap)
        self._outbox = Outbox(outbox_limit)
        self._router = Router(queue_size)
        self._stats = Stats()
        self._ids = itertools.count(1)
        self._state = State.IDLE
        self._state_changed = asyncio.Event()
        self._error: ClientClosed | None = None
        self._runner: asyncio.Task[None] | None = None
        self._conn: Connection | None = None
        self._sub_requests: dict[str, int] = {}  # topic -> id of its unanswered sub
        self._unsub_requests: dict[str, int] = {}  # topic -> id of its unanswered unsub
        self._restoring: set[str] = set()  # topics the hello restores, until `recovered`

    # -- state -----------------------------------------------------------------

    @property
    def state(self) -> State:
        return self._state

    @property
    def session(self) -> str | None:
        """The session id the gateway gave (kept across reconnects)."""
        return self._session

    @property
    def node(self) -> str | None:
        """The gateway node this client is connected to now."""
        return self._conn.node if self._conn is not None else None

    @property
    def url(self) -> str | None:
        return self._conn.url if self._conn is not None else None

    @property
    def urls(self) -> list[str]:
        """Every URL known: the seeds, then nodes found by discovery."""
        return self._endpoints.urls

    @property
    def topics(self) -> list[str]:
        return [topic for topic, _ in self._cursors.items()]

    @property
    def error(self) -> ClientClosed | None:
        """Why the client closed itself (4001, 4009), if it did."""
        return self._error

    @property
    def stats(self) -> Stats:
        """A snapshot of the counters."""
        return dataclasses.replace(
            self._stats, duplicates_dropped=self._cursors.duplicates, gaps=self._cursors.gaps
        )

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

    # -- life cycle ------------------------------------------------------------

    def start(self) -> None:
        """Start connecting in the background; requests queue until connected."""
        if self._state is State.CLOSED:
            raise self._error or ClientClosed("client closed")
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
                if self._state is State.CLOSED:
                    raise self._error or ClientClosed("client closed")
                await self._state_changed.wait()

    async def close(self) -> None:
        """Stop every task, close the connection, end waits and iterators."""
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
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

    def _finish(self, error: ClientClosed | None) -> None:
        if self._state is State.CLOSED:
            return
        self._error = error
        reason = error or ClientClosed("client closed")
        for request in self._outbox.clear():
            if request.future is not None and not request.future.done():
                request.future.set_exception(reason)
        self._router.close(error)
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
                    try:
                        conn = await Connection.open(
                            http, url, self._codec, self._hello(), timeout=self._connect_timeout
                        )
                    except ConnectFailed as exc:
                        fatal = _fatal_error(exc.code, exc.reason)
                        if fatal is not None:
                            self._finish(fatal)
                            return
                        log.info("cannot connect to %s: %s", url, exc.reason)
                        avoid, delay = url, self._backoff.next()
                        continue
                    self._backoff.reset()
                    ended = await self._serve(conn)
                    fatal = _fatal_error(ended.code, ended.reason)
                    if fatal is not None:
                        self._finish(fatal)
                        return
                    log.info("connection to %s ended: %s", url, ended)
                    self._set_state(State.RECONNECTING)
                    avoid = url
                    delay = ended.reconnect_delay
                    if delay is None:
                        delay = self._backoff.next()
        except Exception as exc:
            log.exception("haws client runner failed")
            self._finish(ClientClosed(f"client failed: {exc!r}"))

    def _hello(self) -> dict[str, Any]:
        hello: dict[str, Any] = {"op": "hello", "v": PROTOCOL_VERSION, "batch": self._batch}
        if self._token is not None:
            hello["token"] = self._token
        if self._session is not None:
            hello["session"] = self._session
        cursors = self._cursors.resumable()
        if cursors:
            hello["cursors"] = cursors
        self._restoring = set(cursors)
        return hello

    async def _serve(self, conn: Connection) -> Ended:
        """One connection: re-subscribe what the hello did not restore, re-send
        the outbox, then read until it ends. The sender task dies with it."""
        stats = self._stats
        if stats.connects:
            stats.reconnects += 1
            if self._session is not None:
                stats.resumes += 1
        stats.connects += 1
        self._session = conn.session or self._session
        self._queue_resubscriptions()
        self._outbox.restart()
        self._conn = conn
        log.info("connected to %s (node %s)", conn.url, conn.node)
        self._set_state(State.CONNECTED)
        sender = asyncio.create_task(self._send(conn), name=f"haws sender {conn.url}")
        try:
            return await conn.run(
                self._on_frame,
                ping_interval=self._ping_interval,
                ping_timeout=self._ping_timeout,
            )
        finally:
            self._conn = None
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)

    def _queue_resubscriptions(self) -> None:
        """Subscriptions a ``hello`` does not restore go out as ``sub`` after their cursor:
        those still waiting for their first ``ok``, and presence ones."""
        for topic, state in self._cursors.items():
            if topic in self._restoring:
                continue
            request = self._outbox.get(self._sub_requests.get(topic, 0))
            if request is None:
                request = self._request(self._sub_frame(topic, state.cursor, state.presence))
                self._sub_requests[topic] = request.id
            elif state.cursor is not None:
                request.frame["since"] = state.cursor

    async def _send(self, conn: Connection) -> None:
        """Write what the outbox has ready, oldest first, until the connection goes."""
        loop = asyncio.get_running_loop()
        outbox = self._outbox
        while True:
            outbox.changed.clear()
            for request in outbox.take_ready(loop.time()):
                if not await conn.send(request.frame):
                    return  # the next connection re-sends everything unanswered
                if request.frame["op"] == "pub":
                    self._stats.sent += 1
            retry_at = outbox.next_retry_at()
            timeout = None if retry_at is None else max(0.0, retry_at - loop.time())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await outbox.changed.wait()

    # -- requests --------------------------------------------------------------

    def _check_open(self) -> None:
        if self._state is State.CLOSED:
            raise self._error or ClientClosed("client closed")

    def _request(
        self, frame: dict[str, Any], *, waited: bool = False, bounded: bool = False
    ) -> Request:
        rid = next(self._ids)
        future = asyncio.get_running_loop().create_future() if waited else None
        request = Request(rid, {**frame, "id": rid}, future, bounded=bounded)
        self._outbox.add(request)
        return request

    @staticmethod
    def _sub_frame(topic: str, since: int | None, presence: bool) -> dict[str, Any]:
        frame: dict[str, Any] = {"op": "sub", "topic": topic}
        if since is not None:
            frame["since"] = since
        if presence:
            frame["presence"] = True
        return frame

    async def _wait(self, request: Request) -> Any:
        """The reply to ``request``; abandoning the wait (cancel) stops its re-sends."""
        if request.future is None:
            raise ClientError("request is not waited for")
        try:
            return await request.future
        finally:
            self._outbox.pop(request.id)

    async def publish(self, topic: str, data: Any, *, mid: str | None = None) -> PubAck:
        """Store ``data`` on ``topic``; returns once the broker stored it.

        Sent again after every reconnect (and after an ``unavailable`` refusal)
        with the same ``mid`` until acknowledged, so it is stored exactly once
        (within the stream's 2-minute duplicate window). Raises ``OutboxFull``
        when ``outbox_limit`` publishes already wait, and the gateway's error
        (``BadRequest``, ``TooLarge``, ``Forbidden``...) for a final refusal.
        """
        check_topic(topic, None)
        self._check_open()
        frame = {"op": "pub", "topic": topic, "data": data, "mid": mid or uuid.uuid4().hex}
        ack: PubAck = await self._wait(self._request(frame, waited=True, bounded=True))
        return ack

    async def subscribe(
        self, topic: str, *, since: int | None = None, presence: bool = False
    ) -> None:
        """Subscribe and return after the gateway's ``ok``.

        ``since`` None: from now on; 0: all retained history; N: everything after
        seq N. The subscription is restored on every reconnect from its cursor.
        Subscribing to a topic already subscribed does nothing.
        """
        check_topic(topic, None)
        if since is not None and (not isinstance(since, int) or since < 0):
            raise BadRequest("since must be an integer >= 0")
        self._check_open()
        if topic in self._cursors:
            return
        self._cursors.add(topic, since=since, presence=presence)
        request = self._request(self._sub_frame(topic, since, presence), waited=True)
        self._sub_requests[topic] = request.id
        try:
            await self._wait(request)
        except BaseException:
            if self._sub_requests.get(topic) == request.id:
                del self._sub_requests[topic]
                self._cursors.remove(topic)
            raise

    async def unsubscribe(self, topic: str) -> None:
        """Stop the subscription; messages already queued for iterators stay there."""
        self._check_open()
        if not self._cursors.remove(topic):
            return
        self._restoring.discard(topic)
        pending = self._outbox.pop(self._sub_requests.pop(topic, 0))
        if pending is not None and pending.future is not None and not pending.future.done():
            pending.future.set_exception(ClientError(f"unsubscribed from {topic}"))
        request = self._queue_unsub(topic, waited=self._conn is not None)
        if request.future is not None:
            await self._wait(request)

    def _queue_unsub(self, topic: str, *, waited: bool) -> Request:
        request = self._request({"op": "unsub", "topic": topic}, waited=waited)
        self._unsub_requests[topic] = request.id
        return request

    def messages(self) -> MessageStream:
        """Messages of every subscribed topic that has no ``subscription()`` iterator open."""
        return self._router.messages()

    def subscription(self, topic: str) -> MessageStream:
        """A per-topic iterator, receiving from now on (open it before ``subscribe``)."""
        check_topic(topic, None)
        return self._router.subscription(topic)

    # -- server frames ---------------------------------------------------------

    async def _on_frame(self, frame: dict[str, Any]) -> None:
        op = frame.get("op")
        try:
            if op == "msg":
                await self._on_msg(frame)
            elif op in ("ack", "ok"):
                self._on_reply(frame)
            elif op == "error":
                self._on_error(frame)
            elif op == "recovered":
                self._on_recovered(frame)
            else:
                log.debug("frame ignored: %r", frame)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("malformed %s frame ignored (%r): %r", op, exc, frame)

    async def _on_msg(self, frame: dict[str, Any]) -> None:
        topic, seq, prev = frame["topic"], int(frame["seq"]), int(frame["prev"])
        verdict = self._cursors.check(topic, seq)
        if verdict is Verdict.UNKNOWN:
            # A late message, or a subscription the gateway restored from its own
            # session record that the application no longer wants.
            if topic not in self._unsub_requests:
                self._queue_unsub(topic, waited=False)
            return
        if verdict is Verdict.DUPLICATE:
            return
        message = Message(
            topic=topic,
            seq=seq,
            prev=prev,
            ts=int(frame.get("ts", 0)),
            data=frame.get("data"),
            mid=frame.get("mid"),
            sender=frame.get("from"),
        )
        await self._router.deliver(message)
        self._cursors.advance(topic, seq, prev)
        self._stats.delivered += 1

    def _on_reply(self, frame: dict[str, Any]) -> None:
        request = self._outbox.get(frame["id"])
        if request is None:
            return  # abandoned by its caller
        result: PubAck | None = None
        if frame["op"] == "ack":
            self._stats.acked += 1
            result = PubAck(seq=int(frame["seq"]), dup=bool(frame.get("dup", False)))
        elif request.frame["op"] == "sub":
            self._cursors.confirm(request.frame["topic"], int(frame.get("seq", 0)))
        self._settle(request, result=result)

    def _on_error(self, frame: dict[str, Any]) -> None:
        error = error_of(frame)
        rid = frame.get("id")
        if rid is None:
            self._on_restore_error(error.message)
            return
        request = self._outbox.get(rid)
        if request is None:
            return
        op, topic = request.frame["op"], request.frame.get("topic")
        if op == "unsub":  # not subscribed there (any more): what we wanted
            self._settle(request)
            return
        if isinstance(error, Unavailable):
            request.failures += 1
            wait = full_jitter(RETRY_BASE, RETRY_CAP, request.failures - 1)
            log.info("%s on %s refused as unavailable, retrying in %.2f s", op, topic, wait)
            self._outbox.retry_later(request, asyncio.get_running_loop().time() + wait)
            return
        if op == "sub" and self._sub_requests.get(str(topic)) == rid:
            self._cursors.remove(str(topic))
            if request.future is None:
                log.warning("could not subscribe %s again: %s", topic, error.message)
        self._settle(request, error=error)

    def _settle(
        self, request: Request, *, result: Any = None, error: BaseException | None = None
    ) -> None:
        """A request got its final answer: forget it and wake its caller."""
        self._outbox.pop(request.id)
        op, topic = request.frame["op"], request.frame.get("topic")
        pending = {"sub": self._sub_requests, "unsub": self._unsub_requests}.get(op)
        if pending is not None and pending.get(str(topic)) == request.id:
            del pending[str(topic)]
        future = request.future
        if future is None or future.done():
            return
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)

    def _on_restore_error(self, message: str) -> None:
        """The gateway could not restore every ``hello`` cursor: subscribe those
        not yet ``recovered`` again after their cursor (a restored one just gets ``ok``)."""
        log.warning("gateway error: %s", message)
        for topic in sorted(self._restoring):
            state = self._cursors.get(topic)
            if state is not None and topic not in self._sub_requests:
                request = self._request(self._sub_frame(topic, state.cursor, state.presence))
                self._sub_requests[topic] = request.id
        self._restoring.clear()

    def _on_recovered(self, frame: dict[str, Any]) -> None:
        topic = frame["topic"]
        self._restoring.discard(topic)
        if frame.get("complete") is False:
            self._cursors.lost(topic, int(frame.get("from", 0)), int(frame.get("to", 0)))
