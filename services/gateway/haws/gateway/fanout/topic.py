"""A topic with local subscribers: one live feed, one seq/prev chain.

Live messages arrive at most once (core NATS). The topic keeps the last seq it
fanned out; a message whose ``prev`` skips ahead is held until the missing range
is read from the stream and delivered, so subscribers never see a silent gap.
What it fans out in one event-loop iteration reaches its live subscribers as one
shared run in the node's flush pass (``SharedRun``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from opentelemetry.trace import SpanKind

from haws.common import frames
from haws.common import presence_protocol as pp
from haws.common.logs import EventLogger
from haws.common.messages import StoredMessage
from haws.common.telemetry import extract_context, tracer
from haws.gateway.broker.seams import Feed, History, LiveFeed
from haws.gateway.delivery.flusher import Flusher
from haws.gateway.fanout import recovery
from haws.gateway.fanout.frame_cache import FrameCache
from haws.gateway.fanout.members import Members
from haws.gateway.fanout.recent_window import RecentLimits, RecentMessages
from haws.gateway.fanout.shared_run import SharedRun
from haws.gateway.fanout.subscription import Subscription
from haws.gateway.metrics import GatewayMetrics
from haws.gateway.presence_relay import PresenceRelay
from haws.gateway.sessions.fence import Fence
from haws.protocol.errors import HawsError

FILL_RETRY_MAX = 1.0

_tracer = tracer("gateway")


class Topic:
    def __init__(
        self,
        name: str,
        feed: LiveFeed,
        history: History,
        metrics: GatewayMetrics,
        log: EventLogger,
        *,
        fence: Fence | None = None,
        recent: RecentLimits | None = None,
        flusher: Flusher | None = None,
    ) -> None:
        self.name = name
        self.subscribers = Members(self._settle, self._joined)
        self._run = SharedRun(self.subscribers, flusher, log)
        self.last_seq = 0
        self._feed = feed
        self._history = history
        self._metrics = metrics
        self._log = log.bind(topic=name)
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._live: Feed | None = None
        self._presence: Feed | None = None
        self._presence_relay = PresenceRelay(name)
        self._fence = fence
        self._lock = asyncio.Lock()
        self.recent = RecentMessages(recent or RecentLimits(), asyncio.get_running_loop().time)
        """What was fanned out lately, for catch-ups of resuming clients."""
        self.heard = asyncio.get_running_loop().time()
        """When the last live message arrived (quiet topics are checked against the stream)."""

    async def start(self) -> None:
        """Subscribe live first, then read the stored last seq: nothing falls between."""
        try:
            self._live = await self._feed.live(self.name, self._on_live)
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
        if self._presence is None:
            self._presence = await self._feed.presence_changes(self.name, self._on_presence)

    def _settle(self) -> None:
        """Write this iteration's run now (before who is live changes, or before a
        frame that must follow it)."""
        self._run.settle()

    def _joined(self, sub: Subscription) -> None:
        """``sub`` is live from now on: what was fanned out so far is not for it."""
        sub.live_from = self.last_seq

    async def _on_presence(self, change: pp.Change) -> None:
        self._run.settle()
        frame = self._presence_relay.frame(change)
        if frame is None:
            return  # a new presence leader re-sent what we already delivered
        _broadcast(frame, [sub for sub in self.subscribers.values() if sub.presence])

    async def stop(self) -> None:
        if self._presence is not None:
            presence, self._presence = self._presence, None
            await presence.stop()
        if self._live is not None:
            live, self._live = self._live, None
            await live.stop()

    async def _on_live(self, message: StoredMessage) -> None:
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
                # Retention may have lost the range before it (announced by the fill).
                message = recovery.rechained(message, self.last_seq)
            self._fan_out(message)

    async def catch_up_to(self, seq: int) -> None:
        """Deliver what is stored up to ``seq`` (after a NATS reconnect or a check)."""
        async with self._lock:
            if seq > self.last_seq:
                await self._fill(need=seq, until=seq + 1)

    async def _fill(self, need: int, until: int) -> None:
        """Read (last_seq, until) from the stream and fan it out until ``need`` is
        reached; retries while the stream is unreachable. A page short of ``need``
        is read again or announced as lost as ``recovery`` rules.
        """
        self._metrics.gap_fills.inc()
        self._log.info("topic.gap_fill", after=self.last_seq, need=need)
        delay = 0.05
        short = recovery.ShortReads()
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
            if self.last_seq >= need:
                return
            lost = await short.lost(
                self.last_seq,
                need,
                progress=bool(page.messages) or page.gap is not None,
                gap_reported=page.gap is not None,
            )
            if lost is not None:
                self._announce_gap(lost)
                self.last_seq = need

    def _announce_gap(self, gap: recovery.Gap) -> None:
        self.recent.clear()  # the window must not bridge a gap a catch-up has to report
        self._run.settle()  # the messages before the gap go out before its announcement
        _broadcast(
            frames.recovered(self.name, gap), [s for s in self.subscribers.values() if s.live]
        )

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
        members = self.subscribers
        if members.holding:
            for sub in members.holding.values():
                sub.hold(message)
        delivered = members.live_count
        if delivered:
            self._run.add(cache)
            self._metrics.delivered.inc(delivered)
        return delivered


def _broadcast(frame: dict[str, Any], subs: list[Subscription]) -> None:
    """One frame to many: encoded once per codec, the same bytes queued for each.

    A presence change goes to every presence subscriber of the topic; encoded
    per connection, 1,000 subscribers cost 1,000 encodings of one change (7% of
    a survivor gateway's CPU in failover-2500, where resumes queue behind them).
    """
    encoded: dict[str, bytes] = {}
    for sub in subs:
        conn = sub.conn
        data = encoded.get(conn.codec.name)
        if data is None:
            data = encoded[conn.codec.name] = conn.codec.encode(frame)
        conn.send(data)
