"""The presence endpoints on NATS: claim, event and query in a queue group, heartbeat in none.

Claims and events are compare-and-set writes of one record, answered by
whichever replica gets them; queries are answered from the index. Every replica
hears every heartbeat (no queue group) so all of them know which nodes live;
the gateway takes the first reply. Each request runs in its own task, owned
here; writes and reads have separate bounds so a burst of claims never delays
the heartbeats that keep nodes alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from haws.common import names
from haws.common import presence_protocol as pp
from haws.common.logs import EventLogger
from haws.common.tasks import stop_tasks
from haws.presence.batches import claim_failed, event_failed, in_session_order
from haws.presence.index import PresenceIndex
from haws.presence.large_topics import LargeTopics
from haws.presence.leader import Leadership
from haws.presence.liveness import NodeLiveness
from haws.presence.metrics import PresenceMetrics
from haws.presence.ownership import Ownership
from haws.presence.store import StoreError
from haws.presence.transitions import Grace, StaleEvent
from haws.protocol.client_frames import valid_topic
from haws.protocol.errors import BadRequest

Handler = Callable[[Msg], Awaitable[None]]
# Session ids as the gateway accepts them: also always valid KV keys.
_SESSION_RE = re.compile(r"[A-Za-z0-9_\-]{1,128}")
# Node names end up in a subject token (haws.ctl.gateway.<node>).
_NODE_RE = re.compile(r"[A-Za-z0-9_\-:]{1,128}")


def _check_claim(claim: pp.Claim) -> None:
    if not _SESSION_RE.fullmatch(claim.session):
        raise BadRequest(f"bad session {claim.session!r}")
    if not _NODE_RE.fullmatch(claim.node) or not claim.conn:
        raise BadRequest("claim needs a node name and a connection id")
    if not all(valid_topic(t) for t in claim.topics):
        raise BadRequest("bad topic in claim")


def _check_event(event: pp.Event) -> None:
    if event.kind not in ("sub", "unsub", "close"):
        raise BadRequest(f"bad event kind {event.kind!r}")
    if event.kind != "close" and not valid_topic(event.topic):
        raise BadRequest(f"{event.kind} needs a valid topic")


class PresenceService:
    def __init__(
        self,
        nc: NatsClient,
        *,
        index: PresenceIndex,
        ownership: Ownership,
        liveness: NodeLiveness,
        leadership: Leadership,
        metrics: PresenceMetrics,
        log: EventLogger,
        grace: Grace,
        heartbeat_timeout: float,
        max_inflight: int,
        request_timeout: float,
        large: LargeTopics | None = None,
    ) -> None:
        self._large = large
        self._nc = nc
        self._request_timeout = request_timeout
        self._index = index
        self._ownership = ownership
        self._liveness = liveness
        self._leadership = leadership
        self._metrics = metrics
        self._log = log
        self._grace = grace
        self._heartbeat_timeout = heartbeat_timeout
        self._writes = asyncio.Semaphore(max_inflight)
        self._reads = asyncio.Semaphore(max_inflight)
        self._batches = asyncio.Semaphore(max(1, max_inflight // pp.BATCH_MAX))
        """A batch applies up to ``BATCH_MAX`` items at once: this many batches
        together stay within ``max_inflight`` writes."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._subs: list[Subscription] = []

    async def start(self) -> None:
        queue = names.PRESENCE_QUEUE
        nc = self._nc
        self._subs = [
            await nc.subscribe(
                names.PRESENCE_CLAIM, queue=queue, cb=self._spawner(self._claim, self._writes)
            ),
            await nc.subscribe(
                names.PRESENCE_EVENT, queue=queue, cb=self._spawner(self._event, self._writes)
            ),
            await nc.subscribe(
                names.PRESENCE_BATCH, queue=queue, cb=self._spawner(self._batch, self._batches)
            ),
            await nc.subscribe(
                names.PRESENCE_QUERY, queue=queue, cb=self._spawner(self._query, self._reads)
            ),
            await nc.subscribe(
                names.PRESENCE_HEARTBEAT, cb=self._spawner(self._heartbeat, self._reads)
            ),
        ]
        # The server has the subscriptions before this replica says it serves:
        # otherwise, on a loaded machine, the first claim after ``ready`` can
        # find no responders. (nats-py takes whole seconds here.)
        await nc.flush(max(1, round(self._request_timeout)))

    async def stop(self) -> None:
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._subs = []
        await stop_tasks(list(self._tasks))  # cancels again if a cancellation was swallowed

    def _spawner(self, handler: Handler, slots: asyncio.Semaphore) -> Handler:
        async def on_message(msg: Msg) -> None:
            await slots.acquire()  # back-pressure: the subscription waits, not memory
            task = asyncio.create_task(self._handle(handler, msg, slots))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        return on_message

    async def _handle(self, handler: Handler, msg: Msg, slots: asyncio.Semaphore) -> None:
        try:
            await handler(msg)
        except Exception:
            self._log.exception("presence.handler_crashed", subject=msg.subject)
        finally:
            slots.release()

    async def _respond(self, msg: Msg, message: object) -> None:
        await self._respond_raw(msg, pp.encode(message))

    async def _respond_raw(self, msg: Msg, data: bytes) -> None:
        if msg.reply:
            with contextlib.suppress(Exception):  # the requester gave up or NATS is down
                await msg.respond(data)

    async def _claim(self, msg: Msg) -> None:
        try:
            claim = pp.decode(pp.Claim, msg.data)
        except BadRequest as exc:
            await self._respond(msg, self._bad_claim(exc))
            return
        await self._respond(msg, await self._claimed(claim))

    def _bad_claim(self, exc: BadRequest) -> pp.ClaimReply:
        self._log.warning("presence.bad_claim", error=exc.message)
        self._metrics.claims.labels("bad_request").inc()
        return pp.ClaimReply(epoch=0)

    async def _claimed(self, claim: pp.Claim) -> pp.ClaimReply:
        try:
            _check_claim(claim)
        except BadRequest as exc:
            return self._bad_claim(exc)
        log = self._log.bind(session=claim.session, node=claim.node)
        try:
            outcome = await self._ownership.claim(claim.session, claim)
        except StoreError as exc:
            log.warning("presence.claim_failed", error=str(exc))
            self._metrics.claims.labels("error").inc()
            return pp.ClaimReply(epoch=0)  # 0: not claimed, degrade
        old, takeover = outcome.old, outcome.takeover
        if outcome.superseded:
            self._metrics.claims.labels("superseded").inc()
            log.info("presence.claim_superseded", conn=claim.conn)
            return pp.ClaimReply(epoch=0, superseded=True)
        if takeover is not None and old is not None:
            with contextlib.suppress(Exception):
                await self._nc.publish(names.gateway_control_subject(old.node), pp.encode(takeover))
            self._metrics.takeovers.inc()
            log.info("presence.takeover", old_node=old.node, conn=old.conn, epoch=takeover.epoch)
        self._metrics.claims.labels("ok").inc()
        log.debug("presence.claimed", epoch=outcome.new.epoch, topics=len(outcome.new.topics))
        previous = old.node if old is not None else None
        return pp.ClaimReply(epoch=outcome.new.epoch, previous_node=previous)

    async def _event(self, msg: Msg) -> None:
        try:
            event = pp.decode(pp.Event, msg.data)
        except BadRequest as exc:
            await self._respond(msg, self._bad_event(exc))
            return
        await self._respond(msg, await self._applied(event))

    def _bad_event(self, exc: BadRequest) -> pp.EventReply:
        self._log.warning("presence.bad_event", error=exc.message)
        self._metrics.events.labels("bad", "bad_request").inc()
        return pp.EventReply(ok=False)

    async def _applied(self, event: pp.Event) -> pp.EventReply:
        try:
            _check_event(event)
        except BadRequest as exc:
            return self._bad_event(exc)
        log = self._log.bind(session=event.session, node=event.node, topic=event.topic)
        try:
            await self._ownership.event(event)
        except StaleEvent:
            log.info("presence.stale_event", kind=event.kind, epoch=event.epoch)
            self._metrics.events.labels(event.kind, "stale").inc()
            return pp.EventReply(ok=False, stale=True)
        except StoreError as exc:
            log.warning("presence.event_failed", kind=event.kind, error=str(exc))
            self._metrics.events.labels(event.kind, "error").inc()
            return pp.EventReply(ok=False)  # not applied; may retry
        self._metrics.events.labels(event.kind, "ok").inc()
        log.debug("presence.event", kind=event.kind)
        return pp.EventReply(ok=True)

    async def _batch(self, msg: Msg) -> None:
        """Every item as on its own subject; see ``pp.Batch`` for the order kept."""
        try:
            batch = pp.Batch.decode(msg.data)
        except BadRequest as exc:
            self._log.warning("presence.bad_batch", error=exc.message)
            self._metrics.batches.labels("bad_request").inc()
            await self._respond_raw(msg, pp.BatchReply().encode())
            return
        self._metrics.batches.labels("ok").inc()
        claims = await in_session_order(batch.claims, self._claimed, claim_failed)
        events = await in_session_order(batch.events, self._applied, event_failed)
        await self._respond_raw(msg, pp.BatchReply(claims, events).encode())

    async def _query(self, msg: Msg) -> None:
        try:
            query = pp.decode(pp.Query, msg.data)
        except BadRequest as exc:
            self._log.warning("presence.bad_query", error=exc.message)
            await self._respond(msg, pp.QueryReply(members=[]))
            return
        self._metrics.queries.inc()
        large = self._large
        if large is not None and large.counting(query.topic):
            # A large topic answers its counts and a bounded sample, never its whole list.
            sample = large.sample(query.topic)
            reply = pp.QueryReply(
                members=[asdict(m) for m in sample],
                sample=True,
                count=self._index.size(query.topic),
                users=self._index.users(query.topic),
            )
            await self._respond(msg, reply)
            return
        members = self._index.members(query.topic, time.time(), self._grace)
        await self._respond(msg, pp.QueryReply(members=[asdict(m) for m in members]))

    async def _heartbeat(self, msg: Msg) -> None:
        try:
            beat = pp.decode(pp.Heartbeat, msg.data)
        except BadRequest as exc:
            self._log.warning("presence.bad_heartbeat", error=exc.message)
            return
        self._liveness.heard(beat.node)
        self._metrics.heartbeats.inc()
        lost = await self._lost(beat) if beat.sessions else []
        await self._respond(msg, pp.HeartbeatReply(lease=self._heartbeat_timeout, lost=lost))
        if beat.sessions:
            self._log.info("presence.node_checked", node=beat.node, lost=len(lost))
            kept = set(beat.sessions) - set(lost)
            await self._leadership.revive(beat.node, sorted(kept))

    async def _lost(self, beat: pp.Heartbeat) -> list[str]:
        """Sessions ``beat.node`` still holds that are now another node's, or gone.

        The index may lag a claim by a moment, so each suspect is confirmed on a
        fresh read: a node must never close a connection it still owns.
        """
        suspects = [
            s
            for s in beat.sessions
            if (e := self._index.get(s)) is None or e.record.node != beat.node
        ]

        async def confirmed(session: str) -> bool:
            try:
                record = await self._ownership.read(session)
            except StoreError:
                return False  # cannot tell: keep the connection
            return record is None or record.node != beat.node

        verdicts = await asyncio.gather(*(confirmed(s) for s in suspects))
        return [s for s, lost in zip(suspects, verdicts, strict=True) if lost]
