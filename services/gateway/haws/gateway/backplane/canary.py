"""The backplane canary: a gateway proves every second that it still hears NATS.

A gateway cut from NATS by the network (or attached to a NATS node that lost its
quorum) keeps its clients and may keep a NATS connection that reports up for as
long as the client library's pings allow, delivering nothing all that while
(AnyCable #275, Centrifugo #1166). So each node stores a probe in the stream on
its own topic, exactly as a client's ``pub``, and waits for it on the live
subject its clients' messages come by.

When no probe has come back for ``bound`` seconds the node asks why, because
the cure differs and moving clients is right only for one cause:

* ``cut``: its NATS server does not answer a core ping (``flush``). This node
  is deaf: ``on_deaf`` (not ready, clients told to move, out of Consul).
* ``no_quorum``: the server answers but its JetStream API does not (a NATS node
  cut from its peers). ``on_unready`` (not ready, clients stay: they only wait)
  and ``on_silent`` (the NATS client moves to its next server).
* ``stream``: server and JetStream API answer, the stream does not store: it is
  electing a leader for everyone, and moving clients to another node would help
  nobody. Counted and logged, nothing else.

While the probes stay lost the check runs again every ``bound`` seconds
(``on_silent`` each time the cause is not ``stream``). The first probe back
calls ``on_heard``. Every deaf or unready episode counts in
``haws_gateway_canary_deaf_total{cause, nats}`` (``nats``: what the NATS
connection claimed then, ``up`` when only the canary could tell).

The probes share the stream's retention; every ``PURGE_EVERY`` probes the node
trims its canary topic to the last message, so they never add up.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable
from typing import Literal

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import APIError

from haws.common import names
from haws.common.logs import EventLogger
from haws.common.tasks import stop_task
from haws.gateway.metrics import GatewayMetrics

PING_TIMEOUT = 1
"""Seconds for the server's PONG when the probes are lost: a reachable server answers
a core ping within milliseconds even while JetStream elects."""
PURGE_EVERY = 60
"""Probes between trims of the canary topic (at most this many stay stored)."""

Transition = Callable[[], Awaitable[None]]
Cause = Literal["cut", "no_quorum", "stream"]
OK, UNREADY, DEAF = "ok", "unready", "deaf"


class Canary:
    """Probes the live path of one node; owns its subscription and its loop task."""

    def __init__(
        self,
        nc: NatsClient,
        js: JetStreamContext,
        metrics: GatewayMetrics,
        log: EventLogger,
        *,
        node: str,
        interval: float,
        bound: float,
        on_deaf: Transition,
        on_unready: Transition,
        on_heard: Transition,
        on_silent: Transition,
    ) -> None:
        self._nc = nc
        self._js = js
        self._metrics = metrics
        self._log = log
        self._node = node
        self._topic = names.canary_topic(node)
        self._interval = interval
        self._bound = bound
        self._on_deaf = on_deaf
        self._on_unready = on_unready
        self._on_heard = on_heard
        self._on_silent = on_silent
        self._numbers = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[None]] = {}
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self.state = OK
        self._stream_noted = False

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(names.live_subject(self._topic), cb=self._echo)
        self._task = asyncio.create_task(self._run(), name="canary")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None
        if self._sub is not None:
            with contextlib.suppress(NatsError, OSError):
                await self._sub.unsubscribe()
            self._sub = None

    async def _echo(self, msg: Msg) -> None:
        try:
            number = int(msg.data)
        except ValueError:
            return  # someone else's message on our topic: not a probe
        waiter = self._waiting.get(number)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last_heard = last_check = loop.time()
        while True:
            tick = loop.time()
            number = next(self._numbers)
            heard = await self._probe(number)
            now = loop.time()
            self._metrics.canary_probes.labels("ok" if heard else "lost").inc()
            if heard:
                last_heard = now
                if self.state != OK:
                    self.state = OK
                    self._log.info("canary.heard", node=self._node)
                    await self._on_heard()
                if number % PURGE_EVERY == 0:
                    await self._trim()
            elif now - last_heard >= self._bound and (
                self.state == OK or now - last_check >= self._bound
            ):
                last_check = now
                await self._react(await self._diagnose(), silent_s=now - last_heard)
            self._metrics.canary_ok.set(1 if self.state == OK else 0)
            await asyncio.sleep(max(0.0, tick + self._interval - loop.time()))

    async def _diagnose(self) -> Cause:
        """Why the probes are lost: no server, no JetStream quorum, or the stream itself."""
        try:
            await self._nc.flush(timeout=PING_TIMEOUT)
        except (NatsError, TimeoutError, OSError):
            return "cut"
        try:
            await asyncio.wait_for(self._js.account_info(), self._bound)
        except (NatsError, APIError, TimeoutError, OSError):
            return "no_quorum"
        return "stream"

    async def _react(self, cause: Cause, *, silent_s: float) -> None:
        previous = self.state
        if cause == "stream":
            if previous == OK and not self._stream_noted:
                self._stream_noted = True
                self._count(cause, silent_s)
            return
        self._stream_noted = False
        if cause == "cut" and previous != DEAF:
            self.state = DEAF
            self._count(cause, silent_s)
            await self._on_deaf()
        elif cause == "no_quorum" and previous == OK:
            self.state = UNREADY
            self._count(cause, silent_s)
            await self._on_unready()
        await self._on_silent()

    def _count(self, cause: Cause, silent_s: float) -> None:
        connected = self._nc.is_connected
        self._metrics.canary_deaf.labels(cause, "up" if connected else "down").inc()
        self._log.warning(
            "canary.lost",
            node=self._node,
            cause=cause,
            silent_s=round(silent_s, 3),
            nats_connected=connected,
        )

    async def _probe(self, number: int) -> bool:
        """Store probe ``number`` and wait for it on the live subject, within ``bound``."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[number] = waiter
        try:
            async with asyncio.timeout(self._bound):
                await self._js.publish(
                    names.topic_subject(self._topic),
                    str(number).encode(),
                    timeout=self._bound,
                )
                await waiter
            return True
        except (NatsError, APIError, TimeoutError, OSError):
            return False
        finally:
            del self._waiting[number]

    async def _trim(self) -> None:
        try:
            await self._js.purge_stream(
                names.STREAM, subject=names.topic_subject(self._topic), keep=1
            )
        except (NatsError, APIError, TimeoutError, OSError) as exc:
            self._log.warning("canary.trim_failed", error=repr(exc))
