"""``LiveFeed`` over core NATS: the stream's republished subjects and presence changes.

Core NATS is at-most-once; the topic's ``prev`` chain finds what it loses.
"""

from __future__ import annotations

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from haws.common import names
from haws.common import presence_protocol as pp
from haws.common.logs import EventLogger
from haws.common.messages import StoredMessage
from haws.gateway.broker.seams import ChangeHandler, LiveHandler
from haws.protocol.errors import HawsError

PENDING_MSGS = 100_000
PENDING_BYTES = 256 * 1024 * 1024
"""What nats-py holds per live subscription before it drops (a burst, not a backlog)."""


class NatsFeed:
    def __init__(self, sub: Subscription, log: EventLogger) -> None:
        self._sub: Subscription | None = sub
        self._log = log

    async def stop(self) -> None:
        sub, self._sub = self._sub, None
        if sub is None:
            return
        try:
            await sub.unsubscribe()
        except HawsError:
            pass
        except Exception as exc:  # connection closing: the server drops it anyway
            self._log.debug("topic.unsubscribe_failed", error=repr(exc))


class NatsLiveFeed:
    def __init__(self, nc: NatsClient, log: EventLogger, *, timeout: float) -> None:
        self._nc = nc
        self._log = log
        self._timeout = timeout

    async def live(self, topic: str, on_message: LiveHandler) -> NatsFeed:
        log = self._log.bind(topic=topic)

        async def deliver(msg: Msg) -> None:
            try:
                message = StoredMessage.from_headers(topic, msg.headers or {}, msg.data)
            except (KeyError, ValueError) as exc:
                log.warning("topic.bad_live_message", error=repr(exc))
                return
            await on_message(message)

        sub = await self._nc.subscribe(
            names.live_subject(topic),
            cb=deliver,
            pending_msgs_limit=PENDING_MSGS,
            pending_bytes_limit=PENDING_BYTES,
        )
        feed = NatsFeed(sub, log)
        try:
            # Returned only once the server has the interest: nothing stored later is missed.
            await self._nc.flush(max(1, round(self._timeout)))
        except BaseException:
            await feed.stop()
            raise
        return feed

    async def presence_changes(self, topic: str, on_change: ChangeHandler) -> NatsFeed:
        log = self._log.bind(topic=topic)

        async def deliver(msg: Msg) -> None:
            try:
                change = pp.decode(pp.Change, msg.data)
            except HawsError as exc:
                log.warning("topic.bad_presence_change", error=repr(exc))
                return
            await on_change(change)

        sub = await self._nc.subscribe(names.presence_changes_subject(topic), cb=deliver)
        return NatsFeed(sub, log)
