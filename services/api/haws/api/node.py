"""The API replica's composition: connect, declare, open both doors; stop in reverse.

A process of its own rather than a part of the gateway: a flood of API calls
then costs the gateways' event loops nothing (the WebSocket path never waits
for it), the API scales and restarts on its own, and the gateways hold no API
keys. It is stateless, so replicas share the NATS door's queue group and sit
behind any HTTP load balancer.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable

from haws.api.cluster_info import ClusterInfo
from haws.api.http_api import HttpApi, create_app
from haws.api.keys import ApiKeys
from haws.api.methods import ApiMethods
from haws.api.metrics import ApiMetrics
from haws.api.micro_endpoints import MicroApi
from haws.api.requests import Limits
from haws.api.settings import ApiSettings
from haws.api.throttle import Throttle
from haws.common.discovery import close_consul, consul_client
from haws.common.health_http import serve
from haws.common.logs import get_logger
from haws.common.nats_connection import NatsState, connect
from haws.common.ports import bind_listener, default_name, with_port
from haws.common.settings import nats_settings_of
from haws.common.stream_reader import StreamReader
from haws.common.streams import ensure_events_stream, ensure_stream


@dataclasses.dataclass(frozen=True)
class ApiNode:
    """What a started replica shows its caller (tests and ``haws up`` read these)."""

    name: str
    settings: ApiSettings
    metrics: ApiMetrics
    url: str
    """The HTTP API's base URL, ending in ``/api/v1``."""


async def run_api(
    settings: ApiSettings,
    stop: asyncio.Event,
    *,
    started: Callable[[ApiNode], None] | None = None,
) -> None:
    settings.validate()
    # Bound once, here, and served later: nobody can take the port in between.
    listener = bind_listener(settings.http_host, settings.http_port)
    settings = with_port(settings, "http_port", listener)
    name = default_name(settings.name, settings.http_port)
    log = get_logger("api", replica=name)
    metrics = ApiMetrics()
    connected = False
    if not settings.api_keys and not settings.api_read_keys:
        log.warning("api.no_keys", hint="set HAWS_API_KEYS: every HTTP call gets 401")

    async def on_nats_state(state: NatsState) -> None:
        nonlocal connected
        connected = state in ("connected", "reconnected")

    def not_ready() -> str | None:
        return None if connected else "nats disconnected"

    async with contextlib.AsyncExitStack() as stack:
        stack.callback(listener.close)  # a start-up failure before serving frees the port
        nats_settings = nats_settings_of(settings)
        nc = await connect(nats_settings, name=f"haws-api {name}", on_state=on_nats_state)
        stack.push_async_callback(nc.close)
        js = nc.jetstream(timeout=settings.request_timeout)
        await ensure_stream(js, nats_settings)
        await ensure_events_stream(js, nats_settings)
        reader = StreamReader(nc, timeout=settings.request_timeout)
        await reader.start()
        stack.push_async_callback(reader.stop)
        consul = consul_client(
            settings.consul_http, settings.request_timeout, token=settings.consul_token
        )
        stack.push_async_callback(close_consul, consul)
        methods = ApiMethods(
            nc,
            js,
            reader,
            ClusterInfo(js, consul, timeout=settings.request_timeout),
            node=name,
            timeout=settings.request_timeout,
            disconnect_wait=settings.disconnect_wait,
            limits=Limits(settings.max_broadcast_topics, settings.max_history),
        )
        throttle = Throttle(settings.rate, settings.burst)
        micro = MicroApi(
            nc,
            methods,
            throttle,
            metrics,
            log,
            max_inflight=settings.max_inflight,
            max_body_bytes=settings.max_body_bytes,
        )
        await micro.start()
        stack.push_async_callback(micro.stop)
        http = HttpApi(
            methods,
            ApiKeys(settings.api_keys, settings.api_read_keys),
            throttle,
            metrics,
            log,
            max_body_bytes=settings.max_body_bytes,
            max_inflight=settings.max_inflight,
        )
        runner = await serve(create_app(http, not_ready, metrics), listener)
        stack.push_async_callback(runner.cleanup)
        base = settings.public_url or f"http://{settings.http_host}:{settings.http_port}"
        url = base.rstrip("/") + "/api/v1"
        log.info("api.ready", url=url)
        if started is not None:
            started(ApiNode(name, settings, metrics, url))
        await stop.wait()
        log.info("api.stopping")
    log.info("api.stopped")
