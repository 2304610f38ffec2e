"""``PresenceCalls`` as NATS requests to the presence service's queue group."""

from __future__ import annotations

from typing import Any, TypeVar

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import NoRespondersError

from haws.common import names
from haws.common import presence_protocol as pp
from haws.common.logs import EventLogger
from haws.gateway.broker.nats_feed import NatsFeed
from haws.gateway.broker.seams import NoReplica, TakeoverHandler

_Reply = TypeVar("_Reply")


class NatsPresence:
    def __init__(self, nc: NatsClient, log: EventLogger, *, timeout: float) -> None:
        self._nc = nc
        self._log = log
        self._timeout = timeout

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
        return pp.BatchReply.decode(await self._ask(names.PRESENCE_BATCH, batch.encode()))

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
