"""The HTTP door: ``POST /api/v1/<method>`` with ``Authorization: Bearer <key>``.

On its own listener, never the gateways' public port. The order of checks is
the promise of the docs: key (401), method (404), key's rights (403), rate
(429), body size (413), body (400); only then is anything done. Every error
has the same body as on NATS, ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import asyncio
import math
import time

from aiohttp import web

from haws.api.keys import ApiKeys
from haws.api.methods import ApiMethods
from haws.api.metrics import ApiMetrics
from haws.api.openapi import openapi_document
from haws.api.replies import RETRY_AFTER_UNAVAILABLE, STATUS, encode, error_body
from haws.api.requests import FIELDS, decode_body
from haws.api.throttle import Throttle
from haws.common.health_http import ReadinessCheck, health_routes
from haws.common.logs import EventLogger
from haws.protocol.errors import NotFound, ProtocolError, RateLimited, TooLarge

API_PATH = "/api/v1"


def _json(body: dict[str, object], status: int = 200, **headers: str) -> web.Response:
    return web.Response(
        body=encode(body), status=status, content_type="application/json", headers=headers
    )


def _error(exc: ProtocolError, retry_after: float | None = None) -> web.Response:
    headers: dict[str, str] = {}
    if exc.code == "unauthorized":
        headers["WWW-Authenticate"] = 'Bearer realm="haws-api"'
    if exc.code == "unavailable":
        retry_after = retry_after or RETRY_AFTER_UNAVAILABLE
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return _json(error_body(exc), STATUS.get(exc.code, 500), **headers)


class HttpApi:
    def __init__(
        self,
        methods: ApiMethods,
        keys: ApiKeys,
        throttle: Throttle,
        metrics: ApiMetrics,
        log: EventLogger,
        *,
        max_body_bytes: int,
        max_inflight: int,
    ) -> None:
        self._methods = methods
        self._keys = keys
        self._throttle = throttle
        self._metrics = metrics
        self._log = log
        self._max_body = max_body_bytes
        self._slots = asyncio.Semaphore(max_inflight)

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        started = time.perf_counter()
        outcome = "ok"
        try:
            return await self._answer(request, method)
        except ProtocolError as exc:
            outcome = exc.code
            retry = exc.retry_after if isinstance(exc, _Throttled) else None
            return _error(exc, retry)
        finally:
            label = method if method in FIELDS else "unknown"
            self._metrics.requests.labels("http", label, outcome).inc()
            self._metrics.seconds.labels("http").observe(time.perf_counter() - started)

    async def _answer(self, request: web.Request, method: str) -> web.Response:
        caller = self._keys.caller(request.headers.get("Authorization"))
        if method not in FIELDS:
            raise NotFound(f"no method {method!r}; see {API_PATH}/openapi.json")
        self._keys.check(caller, method)
        wait = self._throttle.take(caller.name)
        if wait > 0:
            raise _Throttled(wait)
        if (request.content_length or 0) > self._max_body:
            raise TooLarge(f"body over {self._max_body} bytes")
        body = decode_body(await self._body(request))
        async with self._slots:
            reply = await self._methods.call(method, body)
        return _json(reply)

    async def _body(self, request: web.Request) -> bytes:
        """The whole body, refused as soon as it passes the limit (chunked bodies too)."""
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > self._max_body:
                raise TooLarge(f"body over {self._max_body} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def openapi(self, request: web.Request) -> web.Response:
        base = f"{request.scheme}://{request.host}{API_PATH}"
        return _json(openapi_document(base, self._methods.limits))

    async def wrong_verb(self, request: web.Request) -> web.Response:
        return _json(
            {"error": {"code": "bad_request", "message": "use POST with a JSON body"}},
            405,
            Allow="POST",
        )


class _Throttled(RateLimited):
    def __init__(self, retry_after: float) -> None:
        super().__init__("API rate limit exceeded")
        self.retry_after = retry_after


def create_app(api: HttpApi, readiness: ReadinessCheck, metrics: ApiMetrics) -> web.Application:
    """The API app; the body limit is the handler's (aiohttp's own would answer in text)."""
    app = web.Application(client_max_size=2**31)
    app.add_routes(
        [
            web.get(f"{API_PATH}/openapi.json", api.openapi),
            web.post(API_PATH + "/{method}", api.handle),
            web.get(API_PATH + "/{method}", api.wrong_verb),
            *health_routes(readiness, metrics.registry),
        ]
    )
    return app
