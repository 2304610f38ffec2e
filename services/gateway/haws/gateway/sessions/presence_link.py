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
from haws.gateway.sessions.fence import Fence
from haws.protocol.errors import Unavailable

SHARDS = 8
CLAIM_ATTEMPTS = 2
"""A claim unanswered within the request timeout is sent once more (see ``_ask``)."""
EVENT_RETRY_MAX = 2.0
EVENT_QUEUE = 10_000

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
        self._claims: set[asyncio.Task[None]] = set()
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
        reply = await self._ask(claim)
        return reply.epoch if reply is not None else 0

    async def _ask(self, claim: pp.Claim) -> pp.ClaimReply | None:
        """The reply, asking again once if the first went unanswered.

        A replica that dies (or stalls) with the claim in hand leaves it
        unanswered while the other replicas are fine: without a second try the
        connection would go on unfenced and, if the claim never landed, its
        presence events would be dropped (no join). A retry is safe: a claim
        repeated by its own connection keeps the epoch it got (the service
        answers it without a write), and a ``fresh`` one is not superseded by
        its own earlier attempt.
        """
        if self._absent:
            return None
        for attempt in range(1, CLAIM_ATTEMPTS + 1):
            try:
                return await self._calls.claim(claim)
            except TimeoutError as exc:
                if attempt == CLAIM_ATTEMPTS:
                    self._log.warning(
                        "presence.claim_failed", session=claim.session, error=repr(exc)
                    )
            except Exception as exc:  # no presence service: messaging goes on unfenced
                self._log.warning("presence.claim_failed", session=claim.session, error=repr(exc))
                return None
        return None

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
        fresh = dataclasses.replace(claim, fresh=True)
        task = asyncio.create_task(
            self._claim_and_release(fresh, on_epoch, on_superseded), name="claim"
        )
        self._claims.add(task)
        task.add_done_callback(self._claims.discard)

    async def _claim_and_release(
        self, claim: pp.Claim, on_epoch: EpochHandler, on_superseded: Callable[[], None]
    ) -> None:
        reply: pp.ClaimReply | None = None
        try:
            reply = await self._ask(claim)
        finally:
            # Synchronously, so no event of this connection can slip in between.
            held = self._held.pop(claim.conn, [])
            epoch = reply.epoch if reply is not None else 0
            on_epoch(epoch)
            if reply is not None and reply.superseded:
                self._log.info("presence.claim_superseded", session=claim.session)
                on_superseded()  # its held events (epoch 0) are dropped: not the owner
            for event in held:
                self.event(dataclasses.replace(event, epoch=epoch))

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
        """Send each event until the service applied it or called it stale.

        While no replica answers (a presence outage), the event waits and is
        retried: dropping a ``close`` would leave a gone session listed.
        """
        while True:
            event = await queue.get()
            try:
                delay = 0.05
                while True:
                    try:
                        reply = await self._calls.event(event)
                        if reply.ok or reply.stale:
                            break
                    except (NoReplica, TimeoutError):
                        pass
                    except Exception as exc:
                        self._log.warning(
                            "presence.event_failed", session=event.session, error=repr(exc)
                        )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, EVENT_RETRY_MAX)
            finally:
                queue.task_done()

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
        if self._claims:
            await asyncio.wait(set(self._claims), timeout=flush_timeout)
            await stop_tasks(list(self._claims))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(q.join() for q in self._queues)), flush_timeout)
        await stop_tasks(self._tasks)
        self._tasks = []
        if self._control is not None:
            await self._control.stop()
            self._control = None
