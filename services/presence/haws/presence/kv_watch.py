"""An ordered push consumer over KV keys, read from the reply subject and raw headers.

Every replica mirrors every ownership write, so a watched update is paid once
per replica per claim or event. nats-py's ``KeyValue.watch`` builds, for each,
a ``Msg`` with a parsed header dict, its ``Metadata`` (a dataclass tree and a
``datetime``) from the reply subject, a ``KeyValue.Entry``, and passes it through
a queue, a callback task and a second queue: 22% of a replica's CPU in a claim
storm. Here the client's raw tap (``haws.common.raw_replies``) hands each
message as (subject, reply, header block, payload) to a list; the reader takes
every message of one socket read in one pass, the stream sequence, timestamp
and pending count straight from the reply subject's tokens, and the operation
from the header block.

It does what an ordered consumer must (as nats-py's does): the consumer
sequence goes up by one per message; on a gap, an idle heartbeat naming a
later consumer sequence, or two heartbeat intervals of silence, a new consumer
starts at the stream sequence after the last one taken. Flow control requests
are answered once the reader has taken every message before them, so the
server never runs ahead of the reader by more than its flow-control window.
The initial load ends (``None``) at the first message with nothing pending,
or at once when the new consumer has nothing to deliver, as nats-py decides it.
"""

from __future__ import annotations

import asyncio
import contextlib
from enum import Enum

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext

from haws.common.raw_replies import RawTap, header, header_block, header_key, tap_for
from haws.presence.store import StoreUnavailable, Update, Updates

HEARTBEAT = 5.0
"""Seconds between the server's idle heartbeats (nats-py's ordered consumer default)."""
_INACTIVE = 60.0
"""The server drops a consumer nobody listens to after this long (one left behind)."""
_MISSED_HEARTBEATS = 2
_DELETE_TIMEOUT = 1.0

_ACK = b"$JS.ACK."
_KV_OPERATION = header_key("KV-Operation")
_MARKER_REASON = header_key("Nats-Marker-Reason")
_LAST_CONSUMER = header_key("Nats-Last-Consumer")
_STALLED = header_key("Nats-Consumer-Stalled")

Raw = tuple[bytes, bytes, bytes | None, bytes]
"""(subject, reply, header block or None, payload) as the tap delivers it."""


class Operation(Enum):
    PUT = "PUT"
    DEL = "DEL"
    PURGE = "PURGE"
    SKIP = "SKIP"
    """A server marker of a reason this code does not know: not an update."""


_OPERATIONS = {b"DEL": Operation.DEL, b"PURGE": Operation.PURGE}
_MARKERS = {b"MaxAge": Operation.PURGE, b"Purge": Operation.PURGE, b"Remove": Operation.DEL}


def operation(block: bytes | None) -> Operation:
    """The KV operation of a delivered message's header block.

    nats-server 2.11+ writes its own TTL and purge markers with
    ``Nats-Marker-Reason`` instead of ``KV-Operation``.
    """
    if block is None:
        return Operation.PUT
    op = header(block, _KV_OPERATION)
    if op is not None:
        return _OPERATIONS.get(op, Operation.PUT)
    reason = header(block, _MARKER_REASON)
    if reason is None:
        return Operation.PUT
    return _MARKERS.get(reason, Operation.SKIP)


def reply_fields(reply: bytes) -> tuple[int, int, int, int] | None:
    """(stream sequence, consumer sequence, timestamp ns, pending) of a delivery's reply.

    ``$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>``, or the
    form with domain and account hash after ``ACK`` (11 tokens, 12 with a random
    one); None for any other subject.
    """
    if not reply.startswith(_ACK):
        return None
    tokens = reply.split(b".")
    count = len(tokens)
    if count == 9:
        at = 5
    elif count >= 11:
        at = 7
    else:
        return None
    try:
        return (
            int(tokens[at]),
            int(tokens[at + 1]),
            int(tokens[at + 2]),
            int(tokens[at + 3]),
        )
    except ValueError:
        return None


class KvWatch:
    """One watch: ``start``, iterate ``updates()``, ``stop`` (which ends the consumer)."""

    def __init__(
        self,
        nc: NatsClient,
        js: JetStreamContext,
        stream: str,
        filter_subject: str,
        key_start: int,
        *,
        timeout: float,
        heartbeat: float = HEARTBEAT,
    ) -> None:
        self._nc = nc
        self._js = js
        self._stream = stream
        self._filter = filter_subject
        self._key_start = key_start
        self._timeout = timeout
        self._heartbeat = heartbeat
        self._tap: RawTap | None = None
        self._sub: Subscription | None = None
        self._consumer: str | None = None
        self._arrived: list[Raw] = []
        self._wake = asyncio.Event()
        self._next_cseq = 1
        self._sseq = 0
        """The stream sequence of the last message taken: a new consumer starts after it."""
        self._loaded = False
        self._load_empty = False
        self._active = True
        self._silent = False
        self._timer: asyncio.TimerHandle | None = None
        self.resets = 0
        """New consumers started after a gap or silence (tests and logs read it)."""
        self.flow_controls = 0
        """Flow control requests answered."""

    async def start(self) -> None:
        self._tap = tap_for(self._nc)
        await self._open()
        self._timer = asyncio.get_running_loop().call_later(
            self._heartbeat * _MISSED_HEARTBEATS, self._check_activity
        )

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self._close()

    def _on_raw(self, subject: bytes, reply: bytes, block: bytes | None, data: bytes) -> None:
        self._active = True
        self._arrived.append((subject, reply, block, data))
        self._wake.set()

    async def _on_msg(self, msg: Msg) -> None:
        """The untapped path (a nats-py without the hook): the same, rebuilt from ``msg``."""
        self._on_raw(msg.subject.encode(), msg.reply.encode(), header_block(msg.headers), msg.data)

    def _check_activity(self) -> None:
        if not self._active:
            self._silent = True
            self._wake.set()
        self._active = False
        self._timer = asyncio.get_running_loop().call_later(
            self._heartbeat * _MISSED_HEARTBEATS, self._check_activity
        )

    async def _open(self) -> None:
        """Subscribe a new deliver subject, then create its consumer after ``_sseq``."""
        deliver = self._nc.new_inbox()
        if self._tap is not None:
            sub = await self._nc.subscribe(deliver)
            self._tap.route_with_reply(sub, self._on_raw)
        else:
            sub = await self._nc.subscribe(deliver, cb=self._on_msg)
        self._sub = sub
        self._next_cseq = 1
        config = ConsumerConfig(
            deliver_subject=deliver,
            filter_subject=self._filter,
            ack_policy=AckPolicy.NONE,
            max_deliver=1,
            flow_control=True,
            idle_heartbeat=self._heartbeat,
            inactive_threshold=_INACTIVE,
            num_replicas=1,
            mem_storage=True,
        )
        if self._sseq == 0:
            config.deliver_policy = DeliverPolicy.LAST_PER_SUBJECT
        else:
            config.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
            config.opt_start_seq = self._sseq + 1
        try:
            info = await self._js.add_consumer(self._stream, config=config, timeout=self._timeout)
        except BaseException:
            await self._close()
            raise
        self._consumer = info.name
        delivered = info.delivered.consumer_seq if info.delivered is not None else 0
        if not self._loaded and not info.num_pending and not delivered:
            self._load_empty = True

    async def _close(self) -> None:
        sub, consumer = self._sub, self._consumer
        self._sub = self._consumer = None
        if sub is not None:
            if self._tap is not None:
                self._tap.unroute(sub)
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._arrived = []  # the old consumer's, not to be taken
        if consumer is not None:
            with contextlib.suppress(Exception):
                # Bounded below the request timeout: a consumer left behind (NATS
                # down) is dropped by the server after ``_INACTIVE`` anyway.
                async with asyncio.timeout(min(self._timeout, _DELETE_TIMEOUT)):
                    await self._js.delete_consumer(self._stream, consumer)

    async def _reset(self) -> None:
        """A new consumer after the last message taken (a gap, or the old one went quiet)."""
        self.resets += 1
        self._silent = False
        self._active = True
        await self._close()
        try:
            await self._open()
        except Exception as exc:
            raise StoreUnavailable(f"{self._filter}: watch consumer lost: {exc!r}") from exc

    async def updates(self) -> Updates:
        """The initial load, ``None``, then every later change, in stream order."""
        key_start = self._key_start
        while True:
            if self._load_empty:
                self._load_empty = False
                self._loaded = True
                yield None
            if not self._arrived:
                self._wake.clear()
                await self._wake.wait()
            if self._silent:
                await self._reset()
                continue
            batch, self._arrived = self._arrived, []
            for subject, reply, block, data in batch:
                fields = reply_fields(reply)
                if fields is None:
                    if await self._control(reply, block):
                        await self._reset()
                        break
                    continue
                sseq, cseq, stamp, pending = fields
                if cseq != self._next_cseq:
                    await self._reset()
                    break
                self._next_cseq = cseq + 1
                self._sseq = sseq
                op = operation(block)
                if op is not Operation.SKIP:
                    key = subject[key_start:].decode()
                    value = data if op is Operation.PUT else None
                    yield Update(key, value, sseq, stamp / 1e9)
                if pending == 0 and not self._loaded:
                    self._loaded = True
                    yield None

    async def _control(self, reply: bytes, block: bytes | None) -> bool:
        """Answer a flow control request or read a heartbeat; True if a gap shows."""
        if block is None:
            return False
        if reply:  # a flow control request: every message before it is taken
            self.flow_controls += 1
            await self._nc.publish(reply.decode())
            return False
        stalled = header(block, _STALLED)
        if stalled:
            await self._nc.publish(stalled.decode())
        last = header(block, _LAST_CONSUMER)
        return last is not None and last.isdigit() and int(last) != self._next_cseq - 1
