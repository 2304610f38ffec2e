"""The backplane canary: a gateway proves every second that it still hears NATS.

A gateway cut from NATS by the network (or attached to a NATS node that lost its
quorum) keeps its clients and may keep a NATS connection that reports up for as
long as the client library's pings allow, delivering nothing all that while
(AnyCable #275, Centrifugo #1166). So each node stores a probe in the stream on
its own topic, exactly as a client's ``pub``, and waits for it on the live
subject its clients' messages come by. A probe that is not back within
``bound`` seconds of the last one that was makes the node deaf: ``/ready``
fails, a counter counts it, and ``on_deaf`` moves the clients elsewhere.
While it stays deaf, ``on_silent`` runs every ``bound`` seconds (the NATS
client tries its next server: the one it is on may be fine but cut from its
quorum). The first probe back calls ``on_heard``.

The probes share the stream's retention; every ``PURGE_EVERY`` probes the node
trims its canary topic to the last message, so they never add up.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable

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

PURGE_EVERY = 60
"""Probes between trims of the canary topic (at most this many stay stored)."""

Transition = Callable[[], Awaitable[None]]


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
        self._on_heard = on_heard
        self._on_silent = on_silent
        self._numbers = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[None]] = {}
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self.deaf = False

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
        last_heard = last_nudge = loop.time()
        while True:
            tick = loop.time()
            number = next(self._numbers)
            heard = await self._probe(number)
            now = loop.time()
            self._metrics.canary_probes.labels("ok" if heard else "lost").inc()
            if heard:
                last_heard = now
                if self.deaf:
                    self.deaf = False
                    self._log.info("canary.heard", node=self._node)
                    await self._on_heard()
                if number % PURGE_EVERY == 0:
                    await self._trim()
            elif not self.deaf and now - last_heard >= self._bound:
                self.deaf = True
                connected = self._nc.is_connected
                # Labelled so an operator sees when only the canary could tell.
                self._metrics.canary_deaf.labels("up" if connected else "down").inc()
                self._log.warning(
                    "canary.deaf",
                    node=self._node,
                    silent_s=round(now - last_heard, 3),
                    nats_connected=connected,
                )
                await self._on_deaf()
            if self.deaf and not heard and now - last_nudge >= self._bound:
                last_nudge = now
                await self._on_silent()
            self._metrics.canary_ok.set(0 if self.deaf else 1)
            await asyncio.sleep(max(0.0, tick + self._interval - loop.time()))

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
                    headers={names.HDR_NODE: self._node},
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
