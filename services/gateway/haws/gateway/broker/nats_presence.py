"""``PresenceCalls`` as NATS requests to the presence service's queue group.

A gateway may run under NATS permissions older than its code: the batch
subject (``haws.presence.batch``) came later than the single ones. The server
then refuses the publish with a permissions violation, which nats-py reports
to the error callback and in ``last_error``, not to the request, so the
request only times out. ``batch`` reads that refusal after the timeout and
answers ``NoReplica`` instead, as it does when no replica serves batches:
callers then send the items one per request, so claims stay fenced and events
applied through a rollout that ships the code before its permissions. A
refused batch is not tried again for ``DENIED_RECHECK`` seconds (a reloaded
auth.conf allows it again).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final, TypeVar

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import NoRespondersError

from haws.common import names
from haws.common import presence_protocol as pp
from haws.common.logs import EventLogger
from haws.gateway.broker.nats_feed import NatsFeed
from haws.gateway.broker.seams import NoReplica, TakeoverHandler

_Reply = TypeVar("_Reply")

DENIED_RECHECK: Final = 60.0
"""Seconds a batch refused by NATS permissions is not tried again."""


def publish_denied(error: BaseException | None, subject: str) -> bool:
    """Whether ``error`` is NATS refusing this connection a publish to ``subject``
    (``nats: 'Permissions Violation for Publish to "<subject>"'``)."""
    text = str(error or "").lower()
    return "permissions violation for publish to" in text and f'"{subject.lower()}"' in text


class NatsPresence:
    def __init__(
        self,
        nc: NatsClient,
        log: EventLogger,
        *,
        timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._nc = nc
        self._log = log
        self._timeout = timeout
        self._clock = clock
        self._batch_denied_until = 0.0

    async def _request(self, subject: str, message: Any, reply_type: type[_Reply]) -> _Reply:
        return pp.decode(reply_type, await self._ask(subject, pp.encode(message)))

    async def _ask(self, subject: str, data: bytes) -> bytes:
        try:
            reply = await self._nc.request(subject, data, timeout=self._timeout)
        except NoRespondersError:
            raise NoReplica("no presence replica") from None
        # nats-py's TimeoutError is a TimeoutError: it passes as the seam says.
        return reply.data

    async def claim(self, claim: pp.Claim) -> pp.ClaimReply:
        return await self._request(names.PRESENCE_CLAIM, claim, pp.ClaimReply)

    async def event(self, event: pp.Event) -> pp.EventReply:
        return await self._request(names.PRESENCE_EVENT, event, pp.EventReply)

    async def batch(self, batch: pp.Batch) -> pp.BatchReply:
        if self._clock() < self._batch_denied_until:
            raise NoReplica("batches refused by this connection's NATS permissions")
        try:
            return pp.BatchReply.decode(await self._ask(names.PRESENCE_BATCH, batch.encode()))
        except TimeoutError:
            if not publish_denied(self._nc.last_error, names.PRESENCE_BATCH):
                raise
        self._batch_denied_until = self._clock() + DENIED_RECHECK
        self._log.warning(
            "presence.batch_denied",
            subject=names.PRESENCE_BATCH,
            recheck=DENIED_RECHECK,
            hint="roll out the auth.conf of this release",
        )
        raise NoReplica("batches refused by this connection's NATS permissions")

    async def query(self, query: pp.Query) -> pp.QueryReply:
        return await self._request(names.PRESENCE_QUERY, query, pp.QueryReply)

    async def heartbeat(self, beat: pp.Heartbeat) -> pp.HeartbeatReply:
        return await self._request(names.PRESENCE_HEARTBEAT, beat, pp.HeartbeatReply)

    async def takeovers(self, node: str, on_takeover: TakeoverHandler) -> NatsFeed:
        async def control(msg: Msg) -> None:
            try:
                on_takeover(pp.decode(pp.Takeover, msg.data))
            except Exception as exc:
                self._log.warning("presence.bad_control", error=repr(exc))

        sub = await self._nc.subscribe(names.gateway_control_subject(node), cb=control)
        return NatsFeed(sub, self._log)
