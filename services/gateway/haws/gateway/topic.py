"""A topic with local subscribers: one core-NATS subscription, one seq/prev chain.

Live messages arrive at most once (core NATS). The topic keeps the last seq it
fanned out; a message whose ``prev`` skips ahead is held until the missing range
is read from the stream and delivered, so subscribers never see a silent gap.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from typing import TYPE_CHECKING

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription
from opentelemetry.trace import SpanKind

from haws.common import frames, names
from haws.common import presence_protocol as pp
from haws.common.logs import EventLogger
from haws.common.messages import StoredMessage
from haws.common.telemetry import extract_context, tracer
from haws.gateway.fence import Fence
from haws.gateway.frame_cache import FrameCache
from haws.gateway.history import History
from haws.gateway.metrics import GatewayMetrics
from haws.gateway.recent import RecentLimits, RecentMessages
from haws.gateway.subscription import STALE_READ_DELAY, STALE_READS
from haws.protocol.codec import Codec
from haws.protocol.errors import HawsError

if TYPE_CHECKING:
    from haws.gateway.connection import Connection
    from haws.gateway.subscription import Subscription

FILL_RETRY_MAX = 1.0

_tracer = tracer("gateway")


class Topic:
    def __init__(
        self,
        name: str,
        nc: NatsClient,
        history: History,
        metrics: GatewayMetrics,
        log: EventLogger,
        *,
        timeout: float,
        fence: Fence | None = None,
        recent: RecentLimits | None = None,
    ) -> None:
        self.name = name
        self.subscribers: dict[Connection, Subscription] = {}
        self.last_seq = 0
        self._nc = nc
        self._history = history
        self._metrics = metrics
        self._log = log.bind(topic=name)
        self._timeout = timeout
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._nats_sub: NatsSubscription | None = None
        self._presence_sub: NatsSubscription | None = None
        self._presence_seen: dict[str, int] = {}
        """Per session, the KV revision of the last change delivered (re-sends repeat it)."""
        self._fence = fence
        self._lock = asyncio.Lock()
        self.recent = RecentMessages(recent or RecentLimits(), asyncio.get_running_loop().time)
        """What was fanned out lately, for catch-ups of resuming clients."""
        self.heard = asyncio.get_running_loop().time()
        """When the last live message arrived (quiet topics are checked against the stream)."""

    async def start(self) -> None:
        """Subscribe live first, then read the stored last seq: nothing falls between."""
        try:
            self._nats_sub = await self._nc.subscribe(
                names.live_subject(self.name),
                cb=self._on_live,
                pending_msgs_limit=100_000,
                pending_bytes_limit=256 * 1024 * 1024,
            )
            await self._nc.flush(max(1, round(self._timeout)))
            self.last_seq = await self._history.last_seq(self.name)
        except BaseException as exc:
            if not self._ready.done():
                self._ready.set_exception(exc)
                self._ready.exception()  # retrieved: waiters get it via ready()
            raise
        self._ready.set_result(None)

    async def ready(self) -> None:
        await asyncio.shield(self._ready)

    async def watch_presence(self) -> None:
        """Subscribe to the topic's join/leave once a local subscriber wants them."""
        if self._presence_sub is None:
            self._presence_sub = await self._nc.subscribe(
                names.presence_changes_subject(self.name), cb=self._on_presence
            )

    async def _on_presence(self, msg: Msg) -> None:
        try:
            change = pp.decode(pp.Change, msg.data)
        except HawsError as exc:
            self._log.warning("topic.bad_presence_change", error=repr(exc))
            return
        if change.revision:
            if self._presence_seen.get(change.session, 0) >= change.revision:
                return  # a new presence leader re-sent what we already delivered
            self._presence_seen[change.session] = change.revision
        who: dict[str, str] = {"session": change.session}
        if change.user:
            who["user"] = change.user
        frame = {"op": change.kind, "topic": self.name, "who": who}
        for sub in self.subscribers.values():
            if sub.presence:
                sub.conn.send_obj(frame)

    async def stop(self) -> None:
        if self._presence_sub is not None:
            psub, self._presence_sub = self._presence_sub, None
            with contextlib.suppress(Exception):
                await psub.unsubscribe()
        if self._nats_sub is not None:
            sub, self._nats_sub = self._nats_sub, None
            try:
                await sub.unsubscribe()
            except HawsError:
                pass
            except Exception as exc:  # connection closing: the server drops it anyway
                self._log.debug("topic.unsubscribe_failed", error=repr(exc))

    async def _on_live(self, msg: Msg) -> None:
        try:
            message = StoredMessage.from_headers(self.name, msg.headers or {}, msg.data)
        except (KeyError, ValueError) as exc:
            self._log.warning("topic.bad_live_message", error=repr(exc))
            return
        self._metrics.received.inc()
        self.heard = asyncio.get_running_loop().time()
        try:
            await self._ready
        except Exception:
            return
        await self.advance(message)

    async def advance(self, message: StoredMessage) -> None:
        """Fan out ``message`` after filling any gap before it; drops duplicates."""
        if self._fence is not None:
            await self._fence.wait_open()
        async with self._lock:
            if message.seq <= self.last_seq:
                return
            if message.prev > self.last_seq:
                await self._fill(need=message.prev, until=message.seq)
                if message.seq <= self.last_seq:
                    return
                if message.prev != self.last_seq:
                    # Retention lost the range before this message (announced by fill).
                    message = replace(message, prev=self.last_seq)
            self._fan_out(message)

    async def catch_up_to(self, seq: int) -> None:
        """Deliver what is stored up to ``seq`` (after a NATS reconnect or a check)."""
        async with self._lock:
            if seq > self.last_seq:
                await self._fill(need=seq, until=seq + 1)

    async def _fill(self, need: int, until: int) -> None:
        """Read (last_seq, until) from the stream and fan it out until ``need`` is
        reached; retries while the stream is unreachable.

        A page short of ``need`` with no reported gap may be stale (a shared replay
        read, a lagging replica): it is read again a few times before the shortfall
        is announced as lost to retention.
        """
        self._metrics.gap_fills.inc()
        self._log.info("topic.gap_fill", after=self.last_seq, need=need)
        delay = 0.05
        stale_reads = 0
        while self.last_seq < need:
            try:
                page = await self._history.read(self.name, self.last_seq, until=until)
            except HawsError as exc:
                if not self.subscribers:
                    return
                self._log.warning("topic.gap_fill_failed", error=repr(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, FILL_RETRY_MAX)
                continue
            if page.gap is not None:
                self._announce_gap(page.gap)
                self.last_seq = max(self.last_seq, page.gap[1])
            for message in page.messages:
                self._fan_out(message)
            if page.messages or page.gap is not None:
                stale_reads = 0
                continue
            if stale_reads < STALE_READS:
                stale_reads += 1
                await asyncio.sleep(STALE_READ_DELAY * stale_reads)
                continue
            self._announce_gap((self.last_seq + 1, need))
            self.last_seq = need

    def _announce_gap(self, gap: tuple[int, int]) -> None:
        self.recent.clear()  # the window must not bridge a gap a catch-up has to report
        for sub in self.subscribers.values():
            if sub.live:
                sub.conn.send_obj(frames.recovered(self.name, gap))

    def _fan_out(self, message: StoredMessage) -> None:
        if message.traceparent is not None:
            # Only traced publishes carry a traceparent: untraced delivery costs nothing.
            with _tracer.start_as_current_span(
                "haws.deliver",
                context=extract_context({"traceparent": message.traceparent}),
                kind=SpanKind.CONSUMER,
                attributes={"haws.topic": self.name, "haws.seq": message.seq},
            ) as span:
                span.set_attribute("haws.subscribers", self._deliver(message))
        else:
            self._deliver(message)

    def _deliver(self, message: StoredMessage) -> int:
        self.last_seq = message.seq
        cache = FrameCache(message)
        self.recent.add(cache)
        delivered = 0
        codec: Codec | None = None
        frame = b""
        for sub in self.subscribers.values():
            if sub.live:
                conn = sub.conn
                if conn.codec is not codec:  # subscribers mostly share one codec
                    codec = conn.codec
                    frame = cache.encoded(codec)
                conn.send(frame)
                delivered += 1
            else:
                sub.hold(message)
        if delivered:
            self._metrics.delivered.inc(delivered)
        return delivered
