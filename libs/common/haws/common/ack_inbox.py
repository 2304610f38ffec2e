"""JetStream publishes awaited on one reply subscription with counter tokens.

``JetStreamContext.publish`` goes through ``Client.request``, which draws a
NUID per request, wraps the wait in ``wait_for`` and builds a ``PubAck``
dataclass from the JSON ack. In a claim storm a presence replica does one of
those per claim, per event and per lifecycle event (the NUID alone was 6% of
its CPU); a gateway one per session write and per client ``pub``. Here every
publish takes the next integer as its reply token on one wildcard inbox
subscription, and the ack's ``seq`` is read straight from the JSON. Where the
installed nats-py allows it the acks come through ``raw_replies``' tap, past
the ``Msg``, its header dict and the subscription's queue and task.

Errors are the ones nats-py raises for the same cases, so callers translate
them exactly as before. One inbox per NATS connection, started after the
connection and stopped before it closes: the subscription survives reconnects
(nats-py re-subscribes it), so an inbox lives as long as its client.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient

from haws.common.raw_replies import RawSubscription, status, subscribe_raw

_NO_RESPONDERS = b"503"

_Reply = tuple[bytes | None, bytes]
"""(header block or None, payload) of one ack."""


class AckInbox:
    def __init__(self, nc: NatsClient) -> None:
        self._nc = nc
        self._prefix = nc.new_inbox() + "."
        self._tokens = itertools.count(1)
        self._waiting: dict[bytes, asyncio.Future[_Reply]] = {}
        self._sub: RawSubscription | None = None

    @property
    def started(self) -> bool:
        return self._sub is not None

    @property
    def tapped(self) -> bool:
        """Acks arrive through the raw tap (not nats-py's per-message path)."""
        return self._sub is not None and self._sub.tapped

    async def start(self) -> None:
        self._sub = await subscribe_raw(self._nc, self._prefix + "*", self._on_reply)

    async def stop(self) -> None:
        """Refuse new publishes; those still waiting fail as on a closed connection."""
        sub, self._sub = self._sub, None
        if sub is not None:
            await sub.stop()
        waiting, self._waiting = self._waiting, {}
        for waiter in waiting.values():
            if not waiter.done():
                waiter.set_exception(nats.errors.ConnectionClosedError())

    def _on_reply(self, subject: bytes, block: bytes | None, data: bytes) -> None:
        waiter = self._waiting.pop(subject, None)
        if waiter is not None and not waiter.done():
            waiter.set_result((block, data))

    async def publish(
        self, subject: str, payload: bytes, headers: dict[str, str] | None, timeout: float
    ) -> int:
        """The stream sequence JetStream stored ``payload`` at.

        Raises ``nats.js.errors.APIError`` (a refused write, wrong last sequence
        among them), ``NoStreamResponseError``, ``nats.errors.TimeoutError`` (a
        ``TimeoutError``) or ``nats.errors.ConnectionClosedError`` once stopped.
        """
        return int((await self._ack(subject, payload, headers, timeout))["seq"])

    async def publish_once(
        self, subject: str, payload: bytes, headers: dict[str, str] | None, timeout: float
    ) -> tuple[int, bool]:
        """``publish`` of a message carrying ``Nats-Msg-Id``: ``(seq, duplicate)``;
        a duplicate is the original's seq, and nothing new was stored."""
        answer = await self._ack(subject, payload, headers, timeout)
        return int(answer["seq"]), bool(answer.get("duplicate", False))

    async def request(
        self, subject: str, payload: bytes, timeout: float
    ) -> tuple[bytes | None, bytes]:
        """The raw reply (header block or None, payload) of one request on the same
        inbox: a KV read's direct get, without nats-py's ``Msg`` and header dict.

        Raises ``nats.errors.TimeoutError`` or ``ConnectionClosedError`` as
        ``publish`` does; a status in the reply is the caller's to read.
        """
        return await self._reply(subject, payload, None, timeout)

    async def _reply(
        self, subject: str, payload: bytes, headers: dict[str, str] | None, timeout: float
    ) -> tuple[bytes | None, bytes]:
        if self._sub is None:
            raise nats.errors.ConnectionClosedError
        reply = f"{self._prefix}{next(self._tokens)}"
        key = reply.encode()
        waiter: asyncio.Future[_Reply] = asyncio.get_running_loop().create_future()
        self._waiting[key] = waiter
        try:
            await self._nc.publish(subject, payload, reply=reply, headers=headers)
            try:
                async with asyncio.timeout(timeout):
                    return await waiter
            except TimeoutError:
                raise nats.errors.TimeoutError from None
        finally:
            self._waiting.pop(key, None)

    async def _ack(
        self, subject: str, payload: bytes, headers: dict[str, str] | None, timeout: float
    ) -> dict[str, Any]:
        block, data = await self._reply(subject, payload, headers, timeout)
        code = status(block)
        if code == _NO_RESPONDERS:
            raise nats.js.errors.NoStreamResponseError
        if code is not None:
            raise nats.js.errors.APIError(code=int(code), description=f"ack status {code!r}")
        try:
            answer = json.loads(data)
        except ValueError:
            raise nats.js.errors.APIError(description=f"unreadable ack {data!r}") from None
        if isinstance(answer, dict):
            if "error" in answer:
                raise nats.js.errors.APIError.from_error(answer["error"])
            if "seq" in answer:
                return answer
        raise nats.js.errors.APIError(description=f"unreadable ack {data!r}")
