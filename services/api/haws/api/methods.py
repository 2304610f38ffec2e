"""What each server API method does, whichever door the request came through.

``publish`` stores exactly as a client ``pub`` does (same subject, body codec
and headers; ``mid`` is ``Nats-Msg-Id``), so gateways deliver it like any
message and a retry with the same ``mid`` is stored once. Every failure is a
``ProtocolError`` subclass: the doors turn its ``code`` into their own shape.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.js import JetStreamContext
from nats.js.errors import APIError, NotFoundError

from haws.api import requests as rq
from haws.api.cluster_info import ClusterInfo
from haws.common import names
from haws.common import presence_protocol as pp
from haws.common.disconnect_protocol import DisconnectCommand, DisconnectReply
from haws.common.release import version
from haws.common.stream_reader import StreamReader
from haws.protocol.codec import decode_payload, encode_payload
from haws.protocol.errors import (
    BadRequest,
    Conflict,
    HawsError,
    Internal,
    ProtocolError,
    Unavailable,
)

BROADCAST_PARALLEL = 32


class ApiMethods:
    def __init__(
        self,
        nc: NatsClient,
        js: JetStreamContext,
        reader: StreamReader,
        cluster: ClusterInfo,
        *,
        node: str,
        timeout: float,
        disconnect_wait: float,
        limits: rq.Limits,
    ) -> None:
        self._nc = nc
        self._js = js
        self._reader = reader
        self._cluster = cluster
        self._node = node
        self._timeout = timeout
        self._disconnect_wait = disconnect_wait
        self.limits = limits

    async def call(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        request = rq.parse(method, body, self.limits)
        if not self._nc.is_connected:
            raise Unavailable("NATS is not connected; retry (a publish with the same mid)")
        try:
            return await self._run(request)
        except ProtocolError:
            raise
        except HawsError as exc:
            raise Unavailable(str(exc)) from None

    async def _run(self, request: rq.ApiRequest) -> dict[str, Any]:
        if isinstance(request, rq.Publish):
            seq, dup = await self.publish(
                request.topic, request.data, request.mid, request.expect_seq
            )
            return {"seq": seq, "dup": dup}
        if isinstance(request, rq.Broadcast):
            return {"results": await self.broadcast(request)}
        if isinstance(request, rq.Presence):
            return {"topic": request.topic, "members": await self.members(request.topic)}
        if isinstance(request, rq.PresenceStats):
            members = await self.members(request.topic)
            users = {m["user"] for m in members if m.get("user") is not None}
            return {"topic": request.topic, "members": len(members), "users": len(users)}
        if isinstance(request, rq.History):
            return await self.history(request)
        if isinstance(request, rq.Disconnect):
            return await self.disconnect(request)
        return await self.info()

    async def publish(
        self, topic: str, data: Any, mid: str | None, expect_seq: int | None = None
    ) -> tuple[int, bool]:
        headers: dict[str, str] = {}
        if mid is not None:
            headers[names.HDR_MSG_ID] = mid
        if expect_seq is not None:
            headers[names.HDR_EXPECTED_LAST_SUBJECT_SEQ] = str(expect_seq)
        try:
            body = encode_payload(data)
        except (TypeError, ValueError) as exc:
            raise Internal(f"cannot store data: {exc}") from None
        try:
            ack = await self._js.publish(
                names.topic_subject(topic), body, timeout=self._timeout, headers=headers
            )
        except APIError as exc:
            if exc.err_code in names.WRONG_LAST_SEQUENCE:
                raise Conflict(f"{topic}: last seq is not {expect_seq}") from None
            raise Unavailable(f"message not stored: {exc.description}") from None
        except (NatsError, TimeoutError, OSError) as exc:
            # Stored or not, a retry with the same mid is safe: the dedupe window holds it.
            raise Unavailable(f"message not stored: {type(exc).__name__}") from None
        return ack.seq, bool(ack.duplicate)

    async def broadcast(self, request: rq.Broadcast) -> list[dict[str, Any]]:
        """One result per topic, in order; each topic stored (or refused) on its own.

        The ``mid`` of topic T is ``<mid>:<T>``: the stream dedupes ids across
        subjects, so one id for every topic would store only the first.
        """
        slots = asyncio.Semaphore(BROADCAST_PARALLEL)

        async def one(topic: str) -> dict[str, Any]:
            mid = f"{request.mid}:{topic}" if request.mid is not None else None
            async with slots:
                try:
                    seq, dup = await self.publish(topic, request.data, mid)
                except ProtocolError as exc:
                    return {"topic": topic, "error": {"code": exc.code, "message": exc.message}}
            return {"topic": topic, "seq": seq, "dup": dup}

        return list(await asyncio.gather(*(one(t) for t in request.topics)))

    async def members(self, topic: str) -> list[dict[str, Any]]:
        try:
            reply = await self._nc.request(
                names.PRESENCE_QUERY, pp.encode(pp.Query(topic)), timeout=self._timeout
            )
            members = pp.decode(pp.QueryReply, reply.data).members
        except (NoRespondersError, NatsError, TimeoutError) as exc:
            raise Unavailable(f"presence unavailable: {type(exc).__name__}") from None
        except BadRequest as exc:
            raise Internal(exc.message) from None
        return [{k: v for k, v in m.items() if v is not None} for m in members]

    async def history(self, request: rq.History) -> dict[str, Any]:
        page = await self._reader.read(request.topic, request.since, request.limit)
        messages = []
        for m in page.messages:
            item: dict[str, Any] = {
                "seq": m.seq,
                "prev": m.prev,
                "ts": m.ts,
                "data": decode_payload(m.body),
            }
            if m.sender is not None:
                item["from"] = m.sender
            if m.mid is not None:
                item["mid"] = m.mid
            messages.append(item)
        out: dict[str, Any] = {"topic": request.topic, "messages": messages, "more": page.more}
        if page.gap is not None:
            out["gap"] = {"from": page.gap[0], "to": page.gap[1]}
        return out

    async def disconnect(self, request: rq.Disconnect) -> dict[str, Any]:
        """Every gateway closes its matching connections; the total of those that answered.

        It waits for as many replies as Consul lists healthy gateways, at most
        ``disconnect_wait``. With ``reconnect: false`` and a session, the session
        record is deleted here too (the session may have no connection at all).
        """
        command = DisconnectCommand(
            user=request.user,
            session=request.session,
            code=request.code,
            reason=request.reason,
            reconnect=request.reconnect,
        )
        expected = await self._cluster.gateway_count()
        replies: list[DisconnectReply] = []
        enough = asyncio.Event()

        async def on_reply(msg: Msg) -> None:
            with contextlib.suppress(BadRequest):
                replies.append(DisconnectReply.decode(msg.data))
            if expected is not None and len(replies) >= expected:
                enough.set()

        inbox = self._nc.new_inbox()
        sub = await self._nc.subscribe(inbox, cb=on_reply)
        try:
            await self._nc.publish(names.GATEWAY_DISCONNECT, command.encode(), reply=inbox)
            if expected != 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(enough.wait(), self._disconnect_wait)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        if not request.reconnect and request.session is not None:
            await self._end_session(request.session)
        return {
            "closed": sum(r.closed for r in replies),
            "nodes": sorted(r.node for r in replies),
        }

    async def _end_session(self, session: str) -> None:
        try:
            kv = await self._js.key_value(names.KV_SESSIONS)
            await asyncio.wait_for(kv.delete(session), self._timeout)
        except NotFoundError:
            return  # no gateway ever created the bucket: nothing to resume
        except (NatsError, TimeoutError) as exc:
            raise Unavailable(f"session not ended: {type(exc).__name__}") from None

    async def info(self) -> dict[str, Any]:
        report = await self._cluster.report()
        report["api"] = {"node": self._node, "version": version()}
        return report
