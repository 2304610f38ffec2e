"""``/ws``: one connection's whole lifecycle in one place.

prepare -> hello within the handshake timeout -> hub.add -> the reader (frames go
out in the node's flush pass, see ``flusher``) -> ``finally``: stop the
connection's writing, ``hub.discard``. Protocol errors become ``error`` frames;
undecodable frames and a bad or missing hello close with 4002.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Final, cast

from aiohttp import WSMsgType, web
from prometheus_client import Counter

from haws.common import frames
from haws.common import presence_protocol as pp
from haws.common.lifecycle import reason_of_close
from haws.common.session_record import SessionRecord, TopicState
from haws.common.telemetry import tracer
from haws.gateway.commands.dispatcher import MAX_PUBS_IN_FLIGHT, Dispatcher, run_pub
from haws.gateway.commands.pending_pubs import PendingPubs
from haws.gateway.delivery.connection import Connection
from haws.gateway.delivery.flusher import Flusher
from haws.gateway.delivery.linger import LingeringWebSocketResponse
from haws.gateway.delivery.peer import FlowControl
from haws.gateway.delivery.send_queue import SendQueue
from haws.gateway.deps import GatewayDeps
from haws.gateway.security.admission import Admission
from haws.gateway.security.auth import TokenRejected
from haws.gateway.security.conn_limits import Lease, LimitExceeded
from haws.gateway.security.credentials import forbidden_topic, stop_watching, watch_expiry
from haws.gateway.security.grants import Principal, split_plan
from haws.gateway.security.rate_limit import CommandLimiter
from haws.gateway.sessions.store import Stored
from haws.gateway.sessions.takeover import take_over
from haws.protocol.client_frames import Hello, Pub, parse_client_frame
from haws.protocol.codec import CODECS, JSON, SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK, Codec
from haws.protocol.errors import CloseCode, FrameDecodeError, ProtocolError, RateLimited

_tracer = tracer("gateway")
SUBPROTOCOLS: Final = (SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK)
_DATA_TYPES: Final = (WSMsgType.TEXT, WSMsgType.BINARY)
MINTED: Final = Stored(None, 0)
"""A session id this node mints has never been written: its first write expects none."""


class HelloFailed(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


async def _read_hello(ws: web.WebSocketResponse, codec: Codec, timeout: float) -> Hello:
    try:
        async with asyncio.timeout(timeout):
            msg = await ws.receive()
    except TimeoutError:
        raise HelloFailed(CloseCode.PROTOCOL, "no hello within the handshake timeout") from None
    if msg.type not in _DATA_TYPES:
        raise HelloFailed(0, "closed before hello")
    try:
        frame = parse_client_frame(codec.decode(msg.data))
    except ProtocolError as exc:
        raise HelloFailed(CloseCode.PROTOCOL, f"bad hello: {exc.message}") from None
    if not isinstance(frame, Hello):
        raise HelloFailed(CloseCode.PROTOCOL, "the first frame must be hello")
    return frame


def restore_plan(record: SessionRecord | None, cursors: dict[str, int]) -> dict[str, TopicState]:
    """What a resume restores: the record's subscriptions, with the client's own
    cursors taking precedence (and adding topics the record did not have yet)."""
    plan = dict(record.subs) if record is not None else {}
    for topic, seq in cursors.items():
        known = plan.get(topic)
        plan[topic] = TopicState(seq, known.presence if known is not None else False)
    return plan


def foreign_session(
    record: SessionRecord | None, live: Connection | None, principal: Principal
) -> str | None:
    """Why ``principal`` may not take this session over (it belongs to another user)."""
    if record is not None and record.user != principal.user:
        return "the session belongs to another user"
    if live is not None and live.user != principal.user:
        return "the session belongs to another user"
    return None


class WsEndpoint:
    def __init__(self, deps: GatewayDeps) -> None:
        self._deps = deps
        self._dispatcher = Dispatcher(deps)
        self._log = deps.log
        self._admission = Admission(deps.settings, deps.limits, deps.metrics)
        self._flusher = Flusher(deps.log, deps.load)
        # Label lookups take a lock and build a key: done once, not per connection.
        hellos = deps.metrics.hellos
        self._hellos = {True: hellos.labels("true"), False: hellos.labels("false")}
        self._close_counters: dict[int | None, Counter] = {}
        self._frame_counters: dict[type[object], Counter] = {}
        self._invalid_frames = deps.metrics.frames_in.labels("invalid")

    def _closes(self, code: int | None) -> Counter:
        counter = self._close_counters.get(code)
        if counter is None:
            counter = self._close_counters[code] = self._deps.metrics.closes.labels(str(code))
        return counter

    def _frames_in(self, kind: type[object]) -> Counter:
        """``frames_in`` by frame type, its label looked up once (10 us a frame saved)."""
        counter = self._frame_counters.get(kind)
        if counter is None:
            counter = self._deps.metrics.frames_in.labels(kind.__name__.lower())
            self._frame_counters[kind] = counter
        return counter

    async def _load(self, session: str) -> Stored | None:
        """The session's record and revision; None when the store did not answer."""
        with _tracer.start_as_current_span("haws.hello") as span:
            stored = await self._deps.sessions.read(session)
            span.set_attribute("haws.resumed", stored is not None and stored.record is not None)
        return stored

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self._deps.state.draining:
            raise web.HTTPServiceUnavailable(text="draining")
        if not self._deps.state.backplane_ok:  # deaf: clients must go elsewhere
            raise web.HTTPServiceUnavailable(text="backplane lost")
        lease = self._admission.admit(request)  # 403 origin, 503/429 limits: before the upgrade
        try:
            # Built here, not in a coroutine of its own: every open connection keeps
            # each coroutine frame of its handler chain (docs/performance.md).
            settings = self._deps.settings
            ws = LingeringWebSocketResponse(
                linger=settings.close_linger,  # a close frame must outlive unread input
                protocols=SUBPROTOCOLS,
                heartbeat=settings.heartbeat,
                max_msg_size=settings.max_frame_bytes,  # also caps a compressed frame, inflated
                compress=settings.compression and lease.reserve_compression(),
            )
            try:
                return await self._session(request, lease, ws)
            finally:
                await ws.lingered()
        finally:
            lease.release()
            self._deps.metrics.compressed_connections.set(self._deps.limits.compressed)

    async def _refuse(
        self, ws: web.WebSocketResponse, request: web.Request, exc: HelloFailed
    ) -> None:
        self._log.info("ws.hello_failed", reason=exc.reason, peer=request.remote)
        await ws.close(code=exc.code, message=exc.reason.encode())
        self._closes(exc.code).inc()

    async def _authenticate(self, hello: Hello, lease: Lease) -> Principal:
        try:
            principal = await self._deps.auth.authenticate(hello.token)
            lease.claim_user(principal.user)
        except TokenRejected as exc:
            self._deps.metrics.auth_failures.labels(exc.reason).inc()
            raise HelloFailed(CloseCode.UNAUTHORIZED, exc.message[:120]) from None
        except LimitExceeded as exc:
            self._deps.metrics.limit_hits.labels("connections_per_user").inc()
            raise HelloFailed(CloseCode.TRY_AGAIN_LATER, str(exc)) from None
        return principal

    async def _session(
        self, request: web.Request, lease: Lease, ws: web.WebSocketResponse
    ) -> web.StreamResponse:
        deps = self._deps
        settings = deps.settings
        await ws.prepare(request)
        if not ws.compress:
            lease.release_compression()
        deps.metrics.compressed_connections.set(deps.limits.compressed)
        codec = CODECS.get(ws.ws_protocol or "", JSON)
        deps.metrics.connections_total.inc()
        try:
            hello = await _read_hello(ws, codec, settings.handshake_timeout)
            principal = await self._authenticate(hello, lease)  # 4001, or 1013 per user
        except HelloFailed as exc:
            if exc.code:
                await self._refuse(ws, request, exc)
            return ws
        # A session minted here has no record yet: revision 0 (see SessionKeeper.opened).
        stored = await self._load(hello.session) if hello.session else MINTED
        record = stored.record if stored is not None else None
        live = deps.hub.by_session.get(hello.session) if hello.session else None
        refusal = foreign_session(record, live, principal)
        if refusal is not None:
            await self._refuse(ws, request, HelloFailed(CloseCode.UNAUTHORIZED, refusal))
            return ws
        session = hello.session or secrets.token_urlsafe(16)
        transport = request.transport
        conn = Connection(
            ws,
            transport,
            codec,
            # aiohttp's request handler is the transport's protocol; its writer drains it.
            flow=cast(FlowControl, transport.get_protocol()) if transport is not None else None,
            drain=request.writer,
            session=session,
            user=principal.user,
            batch=hello.batch,
            queue=SendQueue(settings.send_queue_frames, settings.send_queue_bytes),
            log=self._log,
            flusher=self._flusher,
            slow_grace=settings.slow_consumer_grace,
            principal=principal,
        )
        previous = deps.hub.by_session.get(session)
        if previous is not None:
            take_over(previous, "newer hello on this node")
        deps.hub.add(conn)
        deps.sessions.opened(conn, stored.revision if stored is not None else None)
        plan, denied = split_plan(restore_plan(record, hello.cursors), principal.grants)
        if plan:
            deps.sessions.restoring(conn)  # its record is not rewritten half-restored
        resumed = record is not None
        self._hellos[resumed].inc()
        conn.log.info("ws.open", codec=codec.name, resumed=resumed)
        try:
            # Inside the try: whatever happens from here, the finally unregisters.
            claim = pp.Claim(
                session=session,
                node=deps.node,
                conn=conn.conn_id,
                user=conn.user,
                topics=[topic for topic, state in plan.items() if state.presence],
            )
            if hello.session:
                # A resume may race another connection of the session: welcome only
                # once the presence service ordered this claim (takeover, 4009).
                conn.claimed(await deps.presence.claim(claim))
            else:
                # A session minted here: its claim goes on beside welcome (issue 14;
                # docs/presence.md). A resume elsewhere landing first wins: 4009 here.
                deps.presence.claim_soon(
                    claim,
                    conn.claimed,
                    lambda: take_over(conn, "resumed elsewhere before its first claim"),
                )
            conn.send_obj(
                frames.welcome(
                    session,
                    deps.node,
                    resumed=resumed,
                    heartbeat=settings.heartbeat,
                    ttl=settings.session_ttl,
                )
            )
            for topic in denied:  # a resume regains only what the new token grants
                deps.metrics.errors.labels("forbidden").inc()
                conn.send_obj(forbidden_topic(topic, "not granted, not restored"))
            watch_expiry(conn, settings.auth_expiry_grace)
            await self._serve(ws, conn, plan)
        finally:
            await conn.stop()
            stop_watching(conn)
            code = conn.sent_close or ws.close_code
            reason = reason_of_close(code)
            deps.presence.event(
                pp.Event("close", session, deps.node, conn.conn_id, conn.epoch, reason=reason)
            )
            await deps.sessions.closed(conn)
            deps.hub.discard(conn)
            self._closes(code).inc()
            if code == CloseCode.SLOW_CONSUMER:
                deps.metrics.slow_consumers.inc()
            conn.log.info("ws.close", code=code)
        return ws

    def _error(self, conn: Connection, exc: ProtocolError) -> None:
        self._deps.metrics.errors.labels(exc.code).inc()
        conn.send_obj(frames.error(exc))

    def _limited(self, conn: Connection, limiter: CommandLimiter, request_id: int | None) -> None:
        """A command over the rate: refused, and the connection closed if it keeps on."""
        self._deps.metrics.limit_hits.labels("commands").inc()
        if limiter.exhausted:
            conn.close(CloseCode.PROTOCOL, "command rate limit exceeded")
        elif not conn.closing:
            self._error(conn, RateLimited("command rate limit exceeded", request_id=request_id))

    async def _serve(
        self, ws: web.WebSocketResponse, conn: Connection, restore: dict[str, TopicState]
    ) -> None:
        publishes = PendingPubs(MAX_PUBS_IN_FLIGHT)
        try:
            if restore:
                try:
                    await self._dispatcher.restore(conn, restore)
                except ProtocolError as exc:
                    self._error(conn, exc)
                self._deps.sessions.restored(conn)  # what it holds now is its record
            await self._read_loop(ws, conn, publishes)
        except BaseException:
            await publishes.cancel()
            raise
        # The peer closed, or our close broke the reader's receive: publishes already
        # sent still get stored (their acks may not reach the client any more).
        await publishes.finish()

    async def _read_loop(
        self, ws: web.WebSocketResponse, conn: Connection, publishes: PendingPubs
    ) -> None:
        codec = conn.codec
        metrics = self._deps.metrics
        dispatcher = self._dispatcher
        s = self._deps.settings
        limiter = CommandLimiter(s.command_rate, s.command_burst, s.command_strikes)
        while True:
            msg = await ws.receive()
            if msg.type not in _DATA_TYPES:
                return  # close, closing, closed or error (aiohttp already closed 1009)
            admitted = limiter.admit()
            try:
                frame = parse_client_frame(codec.decode(msg.data))
            except FrameDecodeError as exc:
                metrics.errors.labels(exc.code).inc()
                conn.close(CloseCode.PROTOCOL, exc.message[:120])
                continue  # the close follows what is queued; the reader sees it
            except ProtocolError as exc:
                self._invalid_frames.inc()
                if admitted:
                    self._error(conn, exc)
                else:
                    self._limited(conn, limiter, exc.request_id)
                continue
            self._frames_in(type(frame)).inc()
            if not admitted:
                self._limited(conn, limiter, getattr(frame, "id", None))
                continue
            if isinstance(frame, Pub):
                await run_pub(dispatcher, conn, frame, publishes, self._error)
                continue
            try:
                await dispatcher.dispatch(conn, frame)
            except ProtocolError as exc:
                self._error(conn, exc)
