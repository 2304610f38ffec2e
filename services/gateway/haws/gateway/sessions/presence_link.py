"""The gateway's side of the presence service: claims, events, heartbeats, queries.

Presence is optional for messaging: when no presence replica answers, claims
return epoch 0, events are dropped, queries fail with ``unavailable``, and the
fence stays disabled. Events of one session go out in order (one sender per
shard of sessions), because replicas apply them as they come.
"""

from __future__ import annotations

import asyncio
import contextlib
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
EVENT_RETRY_MAX = 2.0
EVENT_QUEUE = 10_000

SessionsSource = Callable[[], list[str]]
FencedHandler = Callable[[list[str]], None]


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
        try:
            reply = await self._calls.claim(claim)
        except Exception as exc:  # no presence service: messaging goes on unfenced
            self._log.warning("presence.claim_failed", session=claim.session, error=repr(exc))
            return 0
        return reply.epoch

    def event(self, event: pp.Event) -> None:
        """Queue an event; its session's events are sent in order."""
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
        try:
            reply = await self._calls.query(pp.Query(topic))
        except (NoReplica, TimeoutError) as exc:
            raise Unavailable(
                f"presence unavailable: {type(exc).__name__}", request_id=request_id
            ) from None
        # ``user`` is optional on the wire: absent rather than null.
        return [{k: v for k, v in m.items() if v is not None} for m in reply.members]

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
        """Send what is queued (the close events of a drain), then stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(q.join() for q in self._queues)), flush_timeout)
        await stop_tasks(self._tasks)
        self._tasks = []
        if self._control is not None:
            await self._control.stop()
            self._control = None
