"""The request-reply endpoint, in a queue group so replicas share the load.

Each request runs in its own task (the NATS callback must not serialise reads);
``max_inflight`` bounds them, and the tasks are owned here and cancelled on stop.
A page the tail (``tail``) covers is served from it; the rest is read from the
stream, as is a page whose end the stream contradicts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from opentelemetry.trace import SpanKind

from haws.common import names
from haws.common.coalescer import Coalescer
from haws.common.logs import EventLogger
from haws.common.replay_protocol import (
    ReplayRequest,
    encode_error,
    encode_packed,
    encode_rows,
    rechain_packed,
    row_of,
)
from haws.common.stream_reader import MAX_BATCH, MAX_BATCH_BYTES, StreamReader
from haws.common.tasks import stop_tasks
from haws.common.telemetry import extract_context, tracer
from haws.protocol.errors import HawsError, ProtocolError
from haws.replay.metrics import ReplayMetrics
from haws.replay.tail import Tails

PAYLOAD_MARGIN = 1024
"""Bytes of a tail page's reply kept below the server's max_payload for its framing."""

_tracer = tracer("replay")


class ReplayService:
    def __init__(
        self,
        nc: NatsClient,
        reader: StreamReader,
        metrics: ReplayMetrics,
        log: EventLogger,
        *,
        max_inflight: int,
        tails: Tails | None = None,
    ) -> None:
        self._nc = nc
        self._tails = tails
        self._reader = reader
        self._metrics = metrics
        self._log = log
        self._slots = asyncio.Semaphore(max_inflight)
        # Shared: the read and its encoded reply (identical requests, one encoding).
        self._coalescer: Coalescer[tuple[Any, ...], tuple[bytes, int]] = Coalescer()
        self._tasks: set[asyncio.Task[None]] = set()
        self._sub: Subscription | None = None

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(
            names.REPLAY_SUBJECT, queue=names.REPLAY_QUEUE, cb=self._on_request
        )

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None
        await stop_tasks(self._tasks)

    async def _on_request(self, msg: Msg) -> None:
        await self._slots.acquire()
        task = asyncio.create_task(self._serve(msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, msg: Msg) -> None:
        with _tracer.start_as_current_span(
            "haws.replay.serve", context=extract_context(msg.headers), kind=SpanKind.SERVER
        ):
            await self._serve_traced(msg)

    async def _serve_traced(self, msg: Msg) -> None:
        started = time.perf_counter()
        try:
            request = ReplayRequest.decode(msg.data)
            limit = min(request.limit, MAX_BATCH)
            key = (request.topic, request.after, limit, request.until)
            (reply, count), shared = await self._coalescer.run(
                key, lambda: self._page(request.topic, request.after, limit, request.until)
            )
            if shared:
                self._metrics.coalesced.inc()
            self._metrics.messages.inc(count)
            outcome = "ok"
        except ProtocolError as exc:
            reply, outcome = encode_error(exc.message), "bad_request"
        except HawsError as exc:
            self._log.warning("replay.read_failed", error=repr(exc))
            reply, outcome = encode_error("stream unavailable"), "error"
        finally:
            self._slots.release()
        self._metrics.requests.labels(outcome).inc()
        self._metrics.seconds.observe(time.perf_counter() - started)
        if msg.reply:
            with contextlib.suppress(Exception):
                await msg.respond(reply)

    async def _page(
        self, topic: str, after: int, limit: int, until: int | None
    ) -> tuple[bytes, int]:
        """The encoded reply and its message count."""
        if self._tails is not None:
            served = await self._from_tail(self._tails, topic, after, limit, until)
            if served is not None:
                return served
        # The stream's replies become the reply's rows directly: no ``StoredMessage``
        # is built here (1-2 us a message).
        rows, more, gap = await self._reader.read_as(topic, after, limit, row_of, until=until)
        self._metrics.pages.labels("stream").inc()
        return encode_rows(rows, more, gap), len(rows)

    async def _from_tail(
        self, tails: Tails, topic: str, after: int, limit: int, until: int | None
    ) -> tuple[bytes, int] | None:
        """The page out of the tail, None if the stream must answer.

        A page that ends at the tail's end is only as complete as the tail is
        current, and the feed may trail the stream by a moment: one direct get of
        the next stored seq settles it (what a stream read's own end says, too).
        If the stream holds more, the rows go out with ``more`` and the gateway
        asks again; with no rows to give, the stream is read instead.
        """
        max_bytes = min(MAX_BATCH_BYTES, self._nc.max_payload - PAYLOAD_MARGIN)
        now_ms = time.time_ns() // 1_000_000
        hit = tails.read(topic, after, limit, until, max_bytes, now_ms)
        if hit is None:
            return None
        more = hit.more
        if hit.at_end:
            following = await self._reader.next_seq(topic, hit.last)
            behind = following is not None and (until is None or following < until)
            if behind and not hit.rows:
                self._metrics.pages.labels("tail_behind").inc()
                return None
            more = behind
        rows = hit.rows
        if rows and hit.first_prev != after:  # the cursor lies between two seqs
            rows[0] = rechain_packed(rows[0], after)
        self._metrics.pages.labels("tail").inc()
        # No gap: the chain holds every message of the topic from before the cursor.
        return encode_packed(rows, more, None), len(rows)
