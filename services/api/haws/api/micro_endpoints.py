"""The NATS door: the micro service ``haws-api``, one endpoint per method.

Subjects ``haws.api.v1.<method>`` in the queue group ``haws-api`` (replicas share
the work); discoverable with ``$SRV.PING``, ``$SRV.INFO`` and ``$SRV.STATS``.
nats-py runs an endpoint's handler inside the subscription callback, one at a
time; here each request gets its own task, at most ``max_inflight`` at once,
so a slow history read does not hold up publishes. NATS carries no key: who may
publish on ``haws.api.v1.>`` is NATS's own permission to grant.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

from nats.aio.client import Client as NatsClient
from nats.micro import add_service
from nats.micro.request import Request
from nats.micro.service import Service

from haws.api.methods import ApiMethods
from haws.api.metrics import ApiMetrics
from haws.api.replies import STATUS, encode, error_body
from haws.api.requests import decode_body
from haws.api.throttle import Throttle
from haws.common import names
from haws.common.logs import EventLogger
from haws.common.release import version
from haws.common.tasks import stop_tasks
from haws.protocol import names as public
from haws.protocol.errors import Internal, ProtocolError, RateLimited, TooLarge

NATS_CALLER = "nats"


class MicroApi:
    def __init__(
        self,
        nc: NatsClient,
        methods: ApiMethods,
        throttle: Throttle,
        metrics: ApiMetrics,
        log: EventLogger,
        *,
        max_inflight: int,
        max_body_bytes: int,
    ) -> None:
        self._nc = nc
        self._methods = methods
        self._throttle = throttle
        self._metrics = metrics
        self._log = log
        self._slots = asyncio.Semaphore(max_inflight)
        self._max_body = max_body_bytes
        self._tasks: set[asyncio.Task[None]] = set()
        self._service: Service | None = None

    async def start(self) -> None:
        service = await add_service(
            self._nc,
            name=public.API_SERVICE,
            version=version(),
            description="haws server API: publish, broadcast, presence, history, disconnect, info",
            queue_group=names.API_QUEUE,
        )
        self._service = service
        for method in public.API_METHODS:
            await service.add_endpoint(
                name=method, subject=public.api_subject(method), handler=self._handler(method)
            )

    async def stop(self) -> None:
        if self._service is not None:
            with contextlib.suppress(Exception):
                await self._service.stop()
            self._service = None
        await stop_tasks(self._tasks)

    def _handler(self, method: str) -> Callable[[Request], Awaitable[None]]:
        async def on_request(request: Request) -> None:
            await self._slots.acquire()  # back-pressure: the subscription waits, not memory
            task = asyncio.create_task(self._serve(method, request))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        return on_request

    async def _serve(self, method: str, request: Request) -> None:
        started = time.perf_counter()
        outcome = "ok"
        headers: dict[str, str] | None = None
        try:
            reply = await self._reply(method, request.data)
        except ProtocolError as exc:
            outcome = exc.code
            reply = error_body(exc)
            status = str(STATUS.get(exc.code, 500))
            headers = {"Nats-Service-Error": exc.message[:200], "Nats-Service-Error-Code": status}
        except Exception as exc:
            self._log.exception("api.crashed", method=method)
            outcome = "internal"
            reply = error_body(Internal(f"internal error: {type(exc).__name__}"))
        finally:
            self._slots.release()
        self._metrics.requests.labels("nats", method, outcome).inc()
        self._metrics.seconds.labels("nats").observe(time.perf_counter() - started)
        with contextlib.suppress(Exception):  # the requester gave up or NATS is away
            await request.respond(encode(reply), headers=headers)

    async def _reply(self, method: str, data: bytes) -> dict[str, object]:
        if len(data) > self._max_body:
            raise TooLarge(f"request over {self._max_body} bytes")
        if self._throttle.take(NATS_CALLER) > 0:
            raise RateLimited("API rate limit exceeded")
        return await self._methods.call(method, decode_body(data))
