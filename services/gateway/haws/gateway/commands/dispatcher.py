"""Protocol v1 requests after ``hello``: dispatched on the frame's type.

Every handler either replies or raises a ``ProtocolError``; the connection loop
turns that into an ``error`` frame and the connection goes on.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from haws.common import frames
from haws.common import presence_protocol as pp
from haws.common.session_record import TopicState
from haws.gateway.commands.pending_pubs import PendingPubs
from haws.gateway.delivery.connection import Connection
from haws.gateway.deps import GatewayDeps
from haws.gateway.security.auth import TokenRejected
from haws.gateway.security.credentials import forbidden_topic, refresh
from haws.protocol.client_frames import (
    ClientFrame,
    Hello,
    Ping,
    PresenceQuery,
    Pub,
    Refresh,
    Sub,
    Unsub,
)
from haws.protocol.errors import BadRequest, Internal, NotFound, ProtocolError, TooLarge

PresenceKind = Literal["sub", "unsub", "close"]

MAX_PUBS_IN_FLIGHT = 256
"""PendingPubs a connection may have waiting for their PubAck; the reader waits beyond."""


class Dispatcher:
    def __init__(self, deps: GatewayDeps) -> None:
        self._deps = deps
        self._settings = deps.settings
        self._hub = deps.hub
        self._metrics = deps.metrics
        # A label lookup takes a lock and builds a key: once, not per pub.
        self._published = {
            dup: deps.metrics.published.labels(str(dup).lower()) for dup in (False, True)
        }
        self._handlers: dict[type[Any], Callable[[Connection, Any], Awaitable[None]]] = {
            Sub: self.on_sub,
            Unsub: self.on_unsub,
            Pub: self.on_pub,
            PresenceQuery: self.on_presence,
            Ping: self.on_ping,
            Hello: self.on_second_hello,
            Refresh: self.on_refresh,
        }

    async def dispatch(self, conn: Connection, frame: ClientFrame) -> None:
        await self._handlers[type(frame)](conn, frame)

    async def restore(self, conn: Connection, subs: dict[str, TopicState]) -> None:
        """Resume subscriptions (from ``hello`` cursors and the session record),
        each after its cursor; history then ``recovered`` per topic."""
        if len(subs) > self._settings.max_subscriptions:
            self._metrics.limit_hits.labels("subscriptions").inc()
            raise TooLarge(f"at most {self._settings.max_subscriptions} subscriptions")
        for topic, state in subs.items():
            await self._hub.subscribe(
                conn,
                topic,
                since=state.seq,
                presence=state.presence,
                room_timeout=self._room_timeout,
            )

    @property
    def _room_timeout(self) -> float:
        return max(self._settings.heartbeat, 5.0)

    async def on_sub(self, conn: Connection, frame: Sub) -> None:
        conn.principal.check_sub(frame.topic, frame.id)
        if frame.topic in conn.subs:
            # Idempotent: the existing subscription stands, its delivery goes on.
            conn.send_obj(frames.ok(frame.id, frame.topic, self._topic_seq(frame.topic)))
            return
        if len(conn.subs) >= self._settings.max_subscriptions:
            self._metrics.limit_hits.labels("subscriptions").inc()
            raise TooLarge(
                f"subscription limit reached ({self._settings.max_subscriptions})",
                request_id=frame.id,
            )
        try:
            seq = await self._hub.subscribe(
                conn,
                frame.topic,
                since=frame.since,
                presence=frame.presence,
                room_timeout=self._room_timeout,
            )
        except ProtocolError as exc:
            exc.request_id = frame.id
            raise
        # The ok goes out before any history: the catch-up task queues after us.
        conn.send_obj(frames.ok(frame.id, frame.topic, seq))
        if frame.presence:
            self._presence_event(conn, "sub", frame.topic)

    def _presence_event(self, conn: Connection, kind: PresenceKind, topic: str) -> None:
        self._deps.presence.event(
            pp.Event(kind, conn.session, self._deps.node, conn.conn_id, conn.epoch, topic)
        )

    def _topic_seq(self, topic: str) -> int:
        t = self._hub.topics.get(topic)
        return t.last_seq if t is not None else 0

    async def on_unsub(self, conn: Connection, frame: Unsub) -> None:
        sub = conn.subs.get(frame.topic)
        if sub is None:
            raise NotFound(f"not subscribed to {frame.topic}", request_id=frame.id)
        if sub.presence:
            self._presence_event(conn, "unsub", frame.topic)
        last = self._hub.unsubscribe(conn, frame.topic)
        if last is None:
            try:
                last = await self._deps.history.last_seq(frame.topic)
            except Exception:
                last = 0
        conn.send_obj(frames.ok(frame.id, frame.topic, last))

    async def on_pub(self, conn: Connection, frame: Pub) -> None:
        conn.principal.check_pub(frame.topic, frame.id)
        started = time.perf_counter()
        seq, dup = await self._deps.store.publish(
            frame.topic, frame.data, mid=frame.mid, sender=conn.user, request_id=frame.id
        )
        self._metrics.publish_seconds.observe(time.perf_counter() - started)
        self._published[bool(dup)].inc()
        conn.send_obj(frames.ack(frame.id, seq, dup))

    async def on_presence(self, conn: Connection, frame: PresenceQuery) -> None:
        conn.principal.check_sub(frame.topic, frame.id)
        answer = await self._deps.presence.answer(frame.topic, frame.id)
        conn.send_obj(frames.presence(frame.id, frame.topic, **answer))

    async def on_ping(self, conn: Connection, frame: Ping) -> None:
        conn.send_obj(frames.pong(frame.id))

    async def on_second_hello(self, conn: Connection, frame: Hello) -> None:
        raise BadRequest("hello was already received on this connection")

    async def on_refresh(self, conn: Connection, frame: Refresh) -> None:
        try:
            await refresh(
                conn, frame, self._deps.auth, self._settings.auth_expiry_grace, self.revoke
            )
        except TokenRejected as exc:
            self._metrics.auth_failures.labels(exc.reason).inc()
            raise

    def revoke(self, conn: Connection, topic: str) -> None:
        """Drop a subscription the connection's token no longer grants."""
        sub = conn.subs.get(topic)
        if sub is None:
            return
        if sub.presence:
            self._presence_event(conn, "unsub", topic)
        self._hub.unsubscribe(conn, topic)
        self._metrics.errors.labels("forbidden").inc()
        conn.send_obj(forbidden_topic(topic, "no longer granted"))


async def run_pub(
    dispatcher: Dispatcher,
    conn: Connection,
    frame: Pub,
    publishes: PendingPubs,
    on_error: Callable[[Connection, ProtocolError], None],
) -> None:
    """Publish without holding up the reader; ``publishes`` bounds the PubAcks awaited."""

    async def publish() -> None:
        try:
            await dispatcher.on_pub(conn, frame)
        except ProtocolError as exc:
            on_error(conn, exc)
        except Exception as exc:  # a bug: this pub fails, the connection goes on
            conn.log.exception("ws.pub_failed", error=repr(exc))
            on_error(conn, Internal("publish failed", request_id=frame.id))

    await publishes.start(publish())
