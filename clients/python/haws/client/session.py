"""The resumable session: what lives on across connections, and how frames change it.

Subscriptions and their cursors, the outbox of unanswered requests, and the
iterators all belong here, not to a connection. A new connection ``attach``es:
the ``hello`` names every cursor, subscriptions the hello cannot restore are
queued again, and the outbox re-sends every unanswered request in its original
order. Nothing here decides where or when to connect (that is ``Client``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections.abc import Callable
from typing import Any, Final

from haws.client.backoff import full_jitter
from haws.client.connection import Connection
from haws.client.cursors import Cursors, GapCallback, Verdict
from haws.client.outbox import Outbox, Request
from haws.client.presence_tracker import PresenceTracker
from haws.client.router import Router
from haws.client.types import (
    ClientClosed,
    ClientError,
    Message,
    PresenceAnswer,
    PresenceCounts,
    PubAck,
    Stats,
    answer_of,
    error_of,
    member_of,
)
from haws.protocol.client_frames import PROTOCOL_VERSION, check_topic
from haws.protocol.codec import Codec
from haws.protocol.errors import BadRequest, RateLimited, TooLarge, Unavailable

log = logging.getLogger(__name__)

RETRY_BASE: Final = 0.1
"""Seconds: first ceiling of the wait before re-sending a request refused as ``unavailable``."""
RETRY_CAP: Final = 2.0


def _sub_frame(topic: str, since: int | None, presence: bool) -> dict[str, Any]:
    frame: dict[str, Any] = {"op": "sub", "topic": topic}
    if since is not None:
        frame["since"] = since
    if presence:
        frame["presence"] = True
    return frame


class Session:
    def __init__(
        self,
        *,
        codec: Codec,
        max_frame_bytes: int,
        outbox_limit: int,
        queue_size: int,
        on_gap: GapCallback,
        session: str | None,
        on_counts: Callable[[PresenceCounts], None] | None = None,
    ) -> None:
        self.id = session
        self._on_counts = on_counts
        self._codec = codec
        self._max_frame_bytes = max_frame_bytes
        self.cursors = Cursors(on_gap=on_gap)
        self.outbox = Outbox(outbox_limit)
        self.router = Router(queue_size)
        self.stats = Stats()
        self.conn: Connection | None = None
        self._ids = itertools.count(1)
        self._sub_requests: dict[str, int] = {}  # topic -> id of its unanswered sub
        self._unsub_requests: dict[str, int] = {}  # topic -> id of its unanswered unsub
        self._restoring: set[str] = set()  # topics the last hello restores, until `recovered`
        self.trackers: dict[str, list[PresenceTracker]] = {}
        """Per topic, the presence trackers fed its ``join``/``leave``/``counts``."""

    # -- connections -----------------------------------------------------------

    def hello(self, *, batch: bool, token: str | None) -> dict[str, Any]:
        """The ``hello`` for the next connection: the session and every cursor."""
        hello: dict[str, Any] = {"op": "hello", "v": PROTOCOL_VERSION, "batch": batch}
        if token is not None:
            hello["token"] = token
        if self.id is not None:
            hello["session"] = self.id
        cursors = self.cursors.resumable()
        if cursors:
            hello["cursors"] = cursors
        self._restoring = set(cursors)
        return hello

    def attach(self, conn: Connection) -> None:
        """``conn`` was welcomed after our last ``hello``: requests flow over it now."""
        stats = self.stats
        if stats.connects:
            stats.reconnects += 1
            if self.id is not None:
                stats.resumes += 1
        stats.connects += 1
        self.id = conn.session or self.id
        self._queue_resubscriptions()
        self.outbox.restart()
        self.conn = conn

    def detach(self) -> None:
        self.conn = None
        for trackers in self.trackers.values():
            for tracker in trackers:
                tracker.interrupted()

    def _queue_resubscriptions(self) -> None:
        """Subscriptions the ``hello`` did not restore go out as ``sub`` after their
        cursor: those still waiting for their first ``ok``, and presence ones."""
        for topic, state in self.cursors.items():
            if topic in self._restoring:
                continue
            request = self.outbox.get(self._sub_requests.get(topic, 0))
            if request is None:
                request = self._request(_sub_frame(topic, state.cursor, state.presence))
                self._sub_requests[topic] = request.id
            elif state.cursor is not None:
                request.frame["since"] = state.cursor
                request.encoded = self._codec.encode(request.frame)

    async def send_loop(self, conn: Connection) -> None:
        """Write what the outbox has ready, oldest first, until the connection goes."""
        loop = asyncio.get_running_loop()
        outbox = self.outbox
        while True:
            outbox.changed.clear()
            for request in outbox.take_ready(loop.time()):
                if not await conn.send_encoded(request.encoded):
                    return  # the next connection re-sends everything unanswered
                if request.frame["op"] == "pub":
                    self.stats.sent += 1
            retry_at = outbox.next_retry_at()
            timeout = None if retry_at is None else max(0.0, retry_at - loop.time())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await outbox.changed.wait()

    def close(self, error: ClientClosed | None) -> None:
        """Fail every waiting request and end the iterators (with ``error``, if any)."""
        reason = error or ClientClosed("client closed")
        for request in self.outbox.clear():
            if request.future is not None and not request.future.done():
                request.future.set_exception(reason)
        self.router.close(error)

    # -- requests --------------------------------------------------------------

    def _request(
        self, frame: dict[str, Any], *, waited: bool = False, bounded: bool = False
    ) -> Request:
        """Queue a request, encoded once now: data the codec cannot encode, or a frame
        the gateway would refuse as too large (closing the connection 1009, again
        on every re-send), fails here, in the caller."""
        rid = next(self._ids)
        frame = {**frame, "id": rid}
        try:
            encoded = self._codec.encode(frame)
        except (TypeError, ValueError, OverflowError) as exc:
            raise BadRequest(
                f"cannot encode {frame['op']} with {self._codec.name}: {exc}"
            ) from None
        if len(encoded) > self._max_frame_bytes:
            raise TooLarge(
                f"{frame['op']} of {len(encoded)} bytes is over max_frame_bytes "
                f"({self._max_frame_bytes})"
            )
        future = asyncio.get_running_loop().create_future() if waited else None
        request = Request(rid, frame, encoded, future, bounded=bounded)
        self.outbox.add(request)
        return request

    def fail_largest_publish(self) -> None:
        """The gateway closed 1009 (a frame over its limit): fail the largest waiting
        publish, the one that caused it (or would next), instead of re-sending it forever."""
        publishes = [r for r in self.outbox.values() if r.frame["op"] == "pub"]
        if publishes:
            largest = max(publishes, key=lambda r: len(r.encoded))
            size = len(largest.encoded)
            self._settle(largest, error=TooLarge(f"pub of {size} bytes: over the gateway's limit"))

    async def _wait(self, request: Request) -> Any:
        """The reply to ``request``; abandoning the wait (cancel) stops its re-sends."""
        if request.future is None:
            raise ClientError("request is not waited for")
        try:
            return await request.future
        finally:
            self.outbox.pop(request.id)

    async def publish(self, topic: str, data: Any, mid: str | None) -> PubAck:
        check_topic(topic, None)
        frame = {"op": "pub", "topic": topic, "data": data, "mid": mid or uuid.uuid4().hex}
        ack: PubAck = await self._wait(self._request(frame, waited=True, bounded=True))
        return ack

    async def subscribe(self, topic: str, since: int | None, presence: bool) -> None:
        check_topic(topic, None)
        if since is not None and (not isinstance(since, int) or since < 0):
            raise BadRequest("since must be an integer >= 0")
        if topic in self.cursors:
            return
        request = self._request(_sub_frame(topic, since, presence), waited=True)
        self.cursors.add(topic, since=since, presence=presence)
        self._sub_requests[topic] = request.id
        try:
            await self._wait(request)
        except BaseException:
            if self._sub_requests.get(topic) == request.id:
                del self._sub_requests[topic]
                self.cursors.remove(topic)
            raise

    async def presence(self, topic: str, timeout: float | None) -> PresenceAnswer:
        """One ``presence`` query; queued while disconnected, like every request, but
        not retried on ``unavailable``: a late answer to "who is here" is a wrong one."""
        check_topic(topic, None)
        request = self._request({"op": "presence", "topic": topic}, waited=True)
        async with asyncio.timeout(timeout):
            answer: PresenceAnswer = await self._wait(request)
        return answer

    def track(self, tracker: PresenceTracker) -> None:
        self.trackers.setdefault(tracker.topic, []).append(tracker)

    def untrack(self, tracker: PresenceTracker) -> None:
        trackers = self.trackers.get(tracker.topic, [])
        if tracker in trackers:
            trackers.remove(tracker)
        if not trackers:
            self.trackers.pop(tracker.topic, None)

    async def close_trackers(self, topic: str | None = None) -> None:
        """Close the trackers of ``topic`` (of every topic: ``None``) and await their tasks."""
        if topic is None:
            trackers = [t for ts in self.trackers.values() for t in ts]
        else:
            trackers = list(self.trackers.get(topic, ()))
        for tracker in trackers:
            await tracker.close()

    async def unsubscribe(self, topic: str) -> None:
        if not self.cursors.remove(topic):
            return
        await self.close_trackers(topic)
        self._restoring.discard(topic)
        pending = self.outbox.pop(self._sub_requests.pop(topic, 0))
        if pending is not None and pending.future is not None and not pending.future.done():
            pending.future.set_exception(ClientError(f"unsubscribed from {topic}"))
        # Disconnected: the next hello leaves the topic out; the request still goes
        # out in case the gateway restores it from its own session record.
        request = self._queue_unsub(topic, waited=self.conn is not None)
        if request.future is not None:
            await self._wait(request)

    def _queue_unsub(self, topic: str, *, waited: bool) -> Request:
        request = self._request({"op": "unsub", "topic": topic}, waited=waited)
        self._unsub_requests[topic] = request.id
        return request

    # -- server frames ---------------------------------------------------------

    async def on_frame(self, frame: dict[str, Any]) -> None:
        op = frame.get("op")
        try:
            if op == "msg":
                await self._on_msg(frame)
            elif op in ("ack", "ok", "presence"):
                self._on_reply(frame)
            elif op == "error":
                self._on_error(frame)
            elif op == "recovered":
                self._on_recovered(frame)
            elif op in ("join", "leave"):
                self._on_presence_change(frame)
            elif op == "counts":
                self._on_counts_frame(frame)
            else:
                log.debug("frame ignored: %r", frame)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("malformed %s frame ignored (%r): %r", op, exc, frame)

    async def _on_msg(self, frame: dict[str, Any]) -> None:
        topic, seq, prev = frame["topic"], int(frame["seq"]), int(frame["prev"])
        verdict = self.cursors.check(topic, seq)
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
        await self.router.deliver(message)
        self.cursors.advance(topic, seq, prev)
        self.stats.delivered += 1

    def _on_presence_change(self, frame: dict[str, Any]) -> None:
        trackers = self.trackers.get(frame["topic"])
        if not trackers:
            return
        who = member_of(frame["who"])
        if who is None:
            raise ValueError("who has no session")
        for tracker in list(trackers):
            if frame["op"] == "join":
                tracker.joined(who)
            else:
                tracker.left(who)

    def _on_counts_frame(self, frame: dict[str, Any]) -> None:
        trackers = self.trackers.get(frame["topic"])
        if self._on_counts is None and not trackers:
            return
        members = frame.get("members") if frame.get("mode") == "members" else None
        counts = PresenceCounts(
            topic=str(frame["topic"]),
            count=int(frame["count"]),
            users=int(frame.get("users", 0)),
            members=list(members) if members is not None else None,
        )
        for tracker in list(trackers or ()):
            tracker.counted(counts)
        if self._on_counts is not None:
            self._on_counts(counts)

    def _on_reply(self, frame: dict[str, Any]) -> None:
        request = self.outbox.get(frame["id"])
        if request is None:
            return  # abandoned by its caller
        result: PubAck | PresenceAnswer | None = None
        if frame["op"] == "ack":
            self.stats.acked += 1
            result = PubAck(seq=int(frame["seq"]), dup=bool(frame.get("dup", False)))
        elif frame["op"] == "presence":
            result = answer_of(frame)
        elif request.frame["op"] == "sub":
            topic = request.frame["topic"]
            self.cursors.confirm(topic, int(frame.get("seq", 0)))
            # A (re)subscription: whatever changed while it was not there, a fresh
            # snapshot knows; join/leave from now on are buffered on top of it.
            for tracker in list(self.trackers.get(topic, ())):
                tracker.refresh()
        self._settle(request, result=result)

    def _on_error(self, frame: dict[str, Any]) -> None:
        error = error_of(frame)
        rid = frame.get("id")
        if rid is None:
            self._on_restore_error(error.message)
            return
        request = self.outbox.get(rid)
        if request is None:
            return
        op, topic = request.frame["op"], str(request.frame.get("topic"))
        if op == "unsub":  # not subscribed there (any more): what we wanted
            self._settle(request)
            return
        if op == "presence":  # a query: the caller (or a tracker's retry) decides
            self._settle(request, error=error)
            return
        if isinstance(error, Unavailable | RateLimited):
            # Both say "not now": back off (with jitter, so a fleet spreads out) and resend.
            request.failures += 1
            wait = full_jitter(RETRY_BASE, RETRY_CAP, request.failures - 1)
            log.info("%s on %s refused as %s, retrying in %.2f s", op, topic, error.code, wait)
            self.outbox.retry_later(request, asyncio.get_running_loop().time() + wait)
            return
        if op == "sub" and self._sub_requests.get(topic) == rid:
            self.cursors.remove(topic)
            if request.future is None:
                log.warning("could not subscribe %s again: %s", topic, error.message)
            for tracker in self.trackers.get(topic, ()):
                tracker.refused(error)
        self._settle(request, error=error)

    def _settle(
        self, request: Request, *, result: Any = None, error: BaseException | None = None
    ) -> None:
        """A request got its final answer: forget it and wake its caller."""
        self.outbox.pop(request.id)
        op, topic = request.frame["op"], str(request.frame.get("topic"))
        pending = {"sub": self._sub_requests, "unsub": self._unsub_requests}.get(op)
        if pending is not None and pending.get(topic) == request.id:
            del pending[topic]
        future = request.future
        if future is None or future.done():
            return
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)

    def _on_restore_error(self, message: str) -> None:
        """The gateway could not restore every ``hello`` cursor: subscribe those not
        yet ``recovered`` again after their cursor (a restored one just gets ``ok``)."""
        log.warning("gateway error: %s", message)
        for topic in sorted(self._restoring):
            state = self.cursors.get(topic)
            if state is not None and topic not in self._sub_requests:
                request = self._request(_sub_frame(topic, state.cursor, state.presence))
                self._sub_requests[topic] = request.id
        self._restoring.clear()

    def _on_recovered(self, frame: dict[str, Any]) -> None:
        topic = frame["topic"]
        self._restoring.discard(topic)
        if frame.get("complete") is False:
            self.cursors.lost(topic, int(frame.get("from", 0)), int(frame.get("to", 0)))
