"""The small HTTP pieces every service serves: ``/health``, ``/ready``, ``/metrics``.

Readiness is a function returning ``None`` when ready or the reason it is not,
so each service states its own conditions and the HTTP shape stays one.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

ReadinessCheck = Callable[[], str | None]


def health_routes(
    readiness: ReadinessCheck, registry: CollectorRegistry = REGISTRY
) -> list[web.RouteDef]:
    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def ready(_: web.Request) -> web.Response:
        reason = readiness()
        if reason is None:
            return web.json_response({"status": "ready"})
        return web.json_response({"status": "not_ready", "reason": reason}, status=503)

    async def metrics(_: web.Request) -> web.Response:
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return [web.get("/health", health), web.get("/ready", ready), web.get("/metrics", metrics)]


def health_app(
    readiness: ReadinessCheck, registry: CollectorRegistry = REGISTRY
) -> web.Application:
    """A stand-alone app for services whose only HTTP is health (presence, replay)."""
    app = web.Application()
    app.add_routes(health_routes(readiness, registry))
    return app


async def serve(
    app: web.Application,
    listener: socket.socket,
    *,
    ssl_context: ssl.SSLContext | None = None,
    shutdown_timeout: float = 1.0,
) -> web.AppRunner:
    """Start ``app`` on the socket bound at start-up (``ports.bind_listener``); the
    caller owns the runner and calls ``cleanup`` on stop, which closes the socket."""
    runner = web.AppRunner(
        app, access_log=None, handle_signals=False, shutdown_timeout=shutdown_timeout
    )
    await runner.setup()
    try:
        await web.SockSite(runner, listener, ssl_context=ssl_context).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The port actually bound (``0`` in settings means any free port)."""
    for addr in runner.addresses:
        if isinstance(addr, tuple):
            return int(addr[1])
    raise RuntimeError("runner has no TCP address")
