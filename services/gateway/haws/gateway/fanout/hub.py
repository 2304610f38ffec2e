"""The node's local registry: open connections and topics with local subscribers.

Topics are reference-counted by their subscriptions: the first subscriber
starts the topic's live feed, the last one leaving stops it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from haws.common.logs import EventLogger
from haws.common.tasks import stop_tasks
from haws.gateway.broker.seams import History, LiveFeed
from haws.gateway.delivery.connection import Connection
from haws.gateway.delivery.flusher import Flusher
from haws.gateway.fanout.catch_up import catch_up
from haws.gateway.fanout.frame_cache import SharedFrames
from haws.gateway.fanout.recent_window import RecentLimits, RecentMessages
from haws.gateway.fanout.subscription import Subscription
from haws.gateway.fanout.topic import Topic
from haws.gateway.metrics import GatewayMetrics
from haws.gateway.sessions.fence import Fence
from haws.protocol.errors import CloseCode, HawsError, Unavailable


class Hub:
    def __init__(
        self,
        feed: LiveFeed,
        history: History,
        metrics: GatewayMetrics,
        log: EventLogger,
        *,
        fence: Fence | None = None,
        recent: RecentLimits | None = None,
        flusher: Flusher | None = None,
    ) -> None:
        self.connections: set[Connection] = set()
        self.by_session: dict[str, Connection] = {}
        self.topics: dict[str, Topic] = {}
        self._feed = feed
        self._history = history
        self._metrics = metrics
        self._log = log
        self.fence = fence
        self._recent = recent or RecentLimits()
        self.shared_frames = SharedFrames()
        self.flusher = flusher or Flusher(log)
        """Where topics write their runs (the connections' own flush pass may be another)."""
        self._tasks: set[asyncio.Task[Any]] = set()

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def add(self, conn: Connection) -> None:
        self.connections.add(conn)
        self.by_session[conn.session] = conn
        self._metrics.connections.set(len(self.connections))

    def discard(self, conn: Connection) -> None:
        for topic in list(conn.subs):
            self.unsubscribe(conn, topic)
        self.connections.discard(conn)
        if self.by_session.get(conn.session) is conn:
            del self.by_session[conn.session]
        self._metrics.connections.set(len(self.connections))

    async def _topic(self, name: str) -> Topic:
        topic = self.topics.get(name)
        if topic is None:
            topic = Topic(
                name,
                self._feed,
                self._history,
                self._metrics,
                self._log,
                fence=self.fence,
                recent=self._recent,
                flusher=self.flusher,
            )
            self.topics[name] = topic
            self._metrics.topics.set(len(self.topics))
            try:
                await topic.start()
            except (HawsError, TimeoutError, OSError) as exc:
                self._drop_topic(topic)
                raise Unavailable(f"cannot subscribe to {name}: {exc}") from None
            except BaseException:
                self._drop_topic(topic)
                raise
        else:
            try:
                await topic.ready()
            except (HawsError, TimeoutError, OSError) as exc:
                raise Unavailable(f"cannot subscribe to {name}: {exc}") from None
        return topic

    def _drop_topic(self, topic: Topic) -> None:
        if self.topics.get(topic.name) is topic:
            del self.topics[topic.name]
            self._metrics.topics.set(len(self.topics))
        self._spawn(topic.stop(), f"unsubscribe {topic.name}")

    async def subscribe(
        self, conn: Connection, name: str, *, since: int | None, presence: bool, room_timeout: float
    ) -> int:
        """Register ``conn`` on ``name``; returns the topic's last seq for the ``ok`` reply.

        With ``since``, history after it is delivered by a catch-up task the
        subscription owns; live messages wait in its buffer meanwhile.
        """
        topic = await self._topic(name)
        if conn.closing:
            if not topic.subscribers:
                self._drop_topic(topic)
            raise Unavailable("connection closing")
        if presence:
            await topic.watch_presence()
        # No await from here on: registration and the ok seq are one step.
        sub = Subscription(
            conn,
            name,
            live=since is None,
            presence=presence,
            seq=topic.last_seq if since is None else since,
            floor=topic.last_seq,
        )
        topic.subscribers[conn] = sub
        conn.add_subscription(sub)
        if since is not None:
            sub.task = self._spawn(
                self._run_catch_up(sub, since, room_timeout, topic.recent),
                f"catch-up {name} {conn.session}",
            )
        return topic.last_seq

    async def _run_catch_up(
        self, sub: Subscription, since: int, room_timeout: float, recent: RecentMessages
    ) -> None:
        try:
            pages = await catch_up(
                sub,
                since,
                self._history,
                room_timeout=room_timeout,
                fence=self.fence,
                shared=self.shared_frames,
                recent=recent,
            )
            self._metrics.history_reads.inc(pages)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The client cannot be served without a gap: make it come back and resume
            # (4008 when it could not take the history fast enough).
            self._log.warning(
                "catch_up.failed", session=sub.conn.session, topic=sub.topic, error=repr(exc)
            )
            code = CloseCode.SLOW_CONSUMER if isinstance(exc, TimeoutError) else CloseCode.DRAINED
            sub.conn.close(code, "history unavailable")

    def unsubscribe(self, conn: Connection, name: str) -> int | None:
        sub = conn.remove_subscription(name)
        topic = self.topics.get(name)
        if sub is not None:
            sub.cancel()
        if topic is None:
            return None
        topic.subscribers.pop(conn, None)
        last = topic.last_seq
        if not topic.subscribers:
            self._drop_topic(topic)
        return last

    async def resync(self, quiet_for: float = 0.0) -> None:
        """Deliver what topics missed: after a NATS reconnect (all topics) and
        periodically (topics quiet for ``quiet_for`` s). Core NATS is at-most-once
        and a quiet topic would hide a lost last message until the next one; a busy
        topic finds its gaps through the prev chain of its next message.
        """
        now = asyncio.get_running_loop().time()
        for topic in list(self.topics.values()):
            topic.recent.trim()
            if quiet_for and now - topic.heard < quiet_for:
                continue
            try:
                stored = await self._history.last_seq(topic.name)
            except HawsError as exc:
                self._log.warning("resync.failed", topic=topic.name, error=repr(exc))
                continue
            if stored > topic.last_seq:
                await topic.catch_up_to(stored)

    async def check_quiet_topics(self, interval: float) -> None:
        """Run ``resync`` for quiet topics every ``interval`` s until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.resync(quiet_for=interval)
            except Exception as exc:  # next round tries again
                self._log.warning("resync.round_failed", error=repr(exc))

    async def close(self) -> None:
        for topic in list(self.topics.values()):
            self._drop_topic(topic)
        # Unsubscribes finish on their own; catch-ups are cancelled.
        catch_ups = [t for t in self._tasks if not t.get_name().startswith("unsubscribe")]
        await stop_tasks(catch_ups)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=2.0)
