"""The gateway's side of the presence service: claims, events, heartbeats, queries.

Presence is optional for messaging: when no presence replica answers, claims
return epoch 0, events are dropped, queries fail with ``unavailable``, and the
fence stays disabled. Events of one session go out in order (one sender per
shard of sessions), because replicas apply them as they come.

``claim_soon`` takes the claim off the critical path of ``welcome`` (issue 14):
a new session's connection is served at once while its claim is in flight, and
the events it produces meanwhile (sub, unsub, close) wait beside the claim, to
go out in order with the epoch it returns. Ownership is as strong as before:
the presence service still orders every claim of a session, a ``fresh`` claim
overtaken by a resume elsewhere loses (``superseded``: 4009 here), the loser
of any other race gets ``Takeover`` (4009), events carry the winning epoch or
are ``stale``.
docs/presence.md says what a client may observe in that window.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import zlib
from collections.abc import Callable
from typing import Any

from haws.common import presence_protocol as pp
from haws.common.logs import EventLogger
from haws.common.tasks import stop_tasks
from haws.gateway.broker.seams import Feed, NoReplica, PresenceCalls, TakeoverHandler
from haws.gateway.sessions.claim_batches import ClaimBatches
from haws.gateway.sessions.fence import Fence
from haws.protocol.errors import Unavailable

SHARDS = 8
EVENT_RETRY_MAX = 2.0
EVENT_QUEUE = 10_000
EVENT_BATCH = 128
"""Events of one shard sent in one request at most (those queued when it leaves)."""

assert EVENT_BATCH <= pp.BATCH_MAX

SessionsSource = Callable[[], list[str]]
FencedHandler = Callable[[list[str]], None]
EpochHandler = Callable[[int], None]


class PresenceLink:
    def __init__(
        self,
        calls: PresenceCalls,
        log: EventLogger,
        *,
        node: str,
        fence: Fence,
        heartbeat_interval: float,
        linger: float = 0.0,
    ) -> None:
        self._calls = calls
        self._log = log
        self._node = node
        self._fence = fence
        self._interval = heartbeat_interval
        self._queues: list[asyncio.Queue[pp.Event]] = [
            asyncio.Queue(EVENT_QUEUE) for _ in range(SHARDS)
        ]
        self._tasks: list[asyncio.Task[None]] = []
        self._claims = ClaimBatches(calls, log, linger=linger)
        self._linger = linger
        self._held: dict[str, list[pp.Event]] = {}
        """Events of connections whose claim is in flight, by connection id, in order.
        Bounded by what one connection may send (``command_rate``) during one claim
        (at most ``request_timeout``); released, or dropped with epoch 0, when it ends."""
        self._control: Feed | None = None
        self.available = False
        self._absent = False
        """The last heartbeat found no replica at all: claims are not even tried."""

    @property
    def absent(self) -> bool:
        return self._absent

    async def claim(self, claim: pp.Claim) -> int:
        """The new fencing epoch for this connection; 0 without a presence service.

        A deployment without presence would otherwise pay a round trip, an
        exception and a warning per hello; the heartbeat (every second) notices
        when replicas appear.
        """
        if self._absent:
            return 0
        reply = await self._claims.send(claim)
        return reply.epoch if reply is not None else 0

    def claim_soon(
        self, claim: pp.Claim, on_epoch: EpochHandler, on_superseded: Callable[[], None]
    ) -> None:
        """Claim a session minted by this hello without making ``welcome`` wait.

        The claim goes out ``fresh``: if a claim of the session landed first (the
        client resumed elsewhere meanwhile, a newer hello), nothing changes and
        ``on_superseded`` runs (the caller closes with 4009). Otherwise
        ``on_epoch`` gets the epoch, and the connection's events held meanwhile
        go out after it, in order, with that epoch. Without a presence service
        ``on_epoch(0)`` runs at once (nothing to wait for).
        """
        if self._absent:
            on_epoch(0)
            return
        self._held[claim.conn] = []
        reply = self._claims.send(dataclasses.replace(claim, fresh=True), linger=True)

        def release(done: asyncio.Future[pp.ClaimReply | None]) -> None:
            # In one step, so no event of this connection can slip in between.
            answer = None if done.cancelled() else done.result()
            held = self._held.pop(claim.conn, [])
            epoch = answer.epoch if answer is not None else 0
            on_epoch(epoch)
            if answer is not None and answer.superseded:
                self._log.info("presence.claim_superseded", session=claim.session)
                on_superseded()  # its held events (epoch 0) are dropped: not the owner
            for event in held:
                self.event(dataclasses.replace(event, epoch=epoch))

        reply.add_done_callback(release)

    def claiming(self, conn: str) -> bool:
        """Whether the claim of connection ``conn`` is still in flight."""
        return conn in self._held

    def event(self, event: pp.Event) -> None:
        """Queue an event; its session's events are sent in order (after the
        connection's claim, while that is in flight)."""
        held = self._held.get(event.conn)
        if held is not None:
            held.append(event)
            return
        if event.epoch == 0:
            return  # claimed without a presence service: nothing to tell
        queue = self._queues[zlib.crc32(event.session.encode()) % SHARDS]
        try:
            queue.put_nowait(event)
        except asyncio.QueueFull:
            self._log.warning("presence.event_dropped", session=event.session, kind=event.kind)

    async def _send_events(self, queue: asyncio.Queue[pp.Event]) -> None:
        """Send the queued events (many in one request when many wait) until the
        service applied each or called it stale.

        While no replica answers (a presence outage), the events wait and are
        retried: dropping a ``close`` would leave a gone session listed. Only the
        events not applied are sent again, in order; the service skips a
        session's later events after one fails, so each session keeps its order.
        """
        while True:
            events = [await queue.get()]
            if self._linger > 0:
                await asyncio.sleep(self._linger)  # others join it: one request, not many
            while len(events) < EVENT_BATCH and not queue.empty():
                events.append(queue.get_nowait())
            try:
                delay = 0.05
                pending = events
                while True:
                    pending = await self._unapplied(pending)
                    if not pending:
                        break
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, EVENT_RETRY_MAX)
            finally:
                for _ in events:
                    queue.task_done()

    async def _unapplied(self, events: list[pp.Event]) -> list[pp.Event]:
        """Send ``events``; those neither applied nor stale, in their order."""
        try:
            if len(events) == 1:
                replies = [await self._calls.event(events[0])]
            else:
                try:
                    replies = (await self._calls.batch(pp.Batch(events=events))).events
                except NoReplica:  # replicas that predate batches (or none at all)
                    replies = await self._one_by_one(events)
            if len(replies) != len(events):
                raise ValueError(f"{len(replies)} replies to {len(events)} events")
        except (NoReplica, TimeoutError):
            return events
        except Exception as exc:
            self._log.warning("presence.event_failed", session=events[0].session, error=repr(exc))
            return events
        return [e for e, r in zip(events, replies, strict=True) if not (r.ok or r.stale)]

    async def _one_by_one(self, events: list[pp.Event]) -> list[pp.EventReply]:
        """As a batch would: in order, a session's events after a failed one not tried."""
        failed: set[str] = set()
        replies: list[pp.EventReply] = []
        for event in events:
            reply = pp.EventReply(ok=False)
            if event.session not in failed:
                with contextlib.suppress(TimeoutError):
                    reply = await self._calls.event(event)  # NoReplica: none runs at all
            if not (reply.ok or reply.stale):
                failed.add(event.session)
            replies.append(reply)
        return replies

    async def query(self, topic: str, request_id: int | None = None) -> list[dict[str, Any]]:
        members: list[dict[str, Any]] = (await self.answer(topic, request_id))["members"]
        return members

    async def answer(self, topic: str, request_id: int | None = None) -> dict[str, Any]:
        """The fields of a ``presence`` answer: ``members``, and for a counts-only topic
        (haws) ``count``, ``users`` and ``sample: true`` (``members`` is then a sample)."""
        try:
            reply = await self._calls.query(pp.Query(topic))
        except (NoReplica, TimeoutError) as exc:
            raise Unavailable(
                f"presence unavailable: {type(exc).__name__}", request_id=request_id
            ) from None
        # ``user`` is optional on the wire: absent rather than null.
        members = [{k: v for k, v in m.items() if v is not None} for m in reply.members]
        if not reply.sample:
            return {"members": members}
        return {"members": members, "count": reply.count, "users": reply.users, "sample": True}

    async def _heartbeats(
        self, connections: Callable[[], int], sessions: SessionsSource, fenced: FencedHandler
    ) -> None:
        while True:
            if self._fence.enabled and self._fence.paused:
                self._fence.close()
            self._fence.tick()
            checking = self._fence.closed
            beat = pp.Heartbeat(self._node, connections(), sessions() if checking else [])
            try:
                reply = await self._calls.heartbeat(beat)
            except NoReplica:
                if not self._absent:
                    self._log.warning("presence.absent")
                self._absent = True
                self.available = self._fence.enabled = False
                self._fence.reopen()
            except Exception as exc:
                self._log.warning("presence.heartbeat_failed", error=repr(exc))
            else:
                if self._absent:
                    self._log.info("presence.present")
                self._absent = False
                self.available = self._fence.enabled = True
                if reply.lost:
                    self._log.warning("presence.fenced", sessions=len(reply.lost))
                    fenced(reply.lost)
                if checking:
                    self._fence.reopen()
            await asyncio.sleep(self._interval)

    async def start(
        self,
        *,
        on_takeover: TakeoverHandler,
        connections: Callable[[], int],
        sessions: SessionsSource,
        fenced: FencedHandler,
    ) -> None:
        self._control = await self._calls.takeovers(self._node, on_takeover)
        self._tasks = [asyncio.create_task(self._send_events(q)) for q in self._queues]
        self._tasks.append(
            asyncio.create_task(self._heartbeats(connections, sessions, fenced), name="heartbeat")
        )

    async def stop(self, flush_timeout: float = 2.0) -> None:
        """Let claims in flight land, send what is queued (the close events of a
        drain), then stop."""
        await self._claims.stop(flush_timeout)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(q.join() for q in self._queues)), flush_timeout)
        await stop_tasks(self._tasks)
        self._tasks = []
        if self._control is not None:
            await self._control.stop()
            self._control = None
