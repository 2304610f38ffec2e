"""The gateway's composition: connect, declare, serve, register; then stop in order.

Every resource is entered on one ``AsyncExitStack`` so shutdown runs in reverse.
The ordered stop on a stop request is: deregister from Consul (nobody new is
sent here), mark not ready, drain clients, then close HTTP, topics and NATS.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from haws.common import names
from haws.common.ack_inbox import AckInbox
from haws.common.discovery import ConsulRegistration, ServiceInstance, close_consul, consul_client
from haws.common.health_http import serve
from haws.common.logs import get_logger
from haws.common.nats_connection import NatsState, connect
from haws.common.ports import bind_listener, with_port
from haws.common.release import version
from haws.common.settings import nats_settings_of
from haws.common.stream_reader import StreamReader
from haws.common.streams import ensure_kv, ensure_stream
from haws.common.tasks import stop_tasks
from haws.gateway.app import create_app
from haws.gateway.backplane.canary import Canary
from haws.gateway.backplane.deafness import Deafness
from haws.gateway.broker.jetstream_store import JetStreamStore
from haws.gateway.broker.nats_feed import NatsLiveFeed
from haws.gateway.broker.nats_presence import NatsPresence
from haws.gateway.broker.replay_history import ReplayHistory
from haws.gateway.delivery.flusher import Flusher
from haws.gateway.delivery.load import LoopLoad
from haws.gateway.deps import GatewayDeps, Readiness
from haws.gateway.drain import drain_connections
from haws.gateway.fanout.hub import Hub
from haws.gateway.fanout.recent_window import RecentLimits
from haws.gateway.metrics import GatewayMetrics
from haws.gateway.security.auth import build_authenticator
from haws.gateway.security.conn_limits import ConnectionLimits
from haws.gateway.security.tls import server_context
from haws.gateway.sessions.disconnects import DisconnectListener
from haws.gateway.sessions.fence import Fence
from haws.gateway.sessions.startup import start_sessions
from haws.gateway.sessions.store import KvSessionStore
from haws.gateway.settings import GatewaySettings

Started = Callable[[GatewayDeps], None]


async def run_gateway(
    settings: GatewaySettings, stop: asyncio.Event, *, started: Started | None = None
) -> None:
    tls = server_context(settings)  # before connecting anything: a bad cert stops the start
    # Bound once, here, and served later: nobody can take the port in between.
    listener = bind_listener(settings.host, settings.port)
    settings = with_port(settings, "port", listener)
    node = settings.node_name
    scheme = "wss" if tls is not None else "ws"
    url = settings.public_url or f"{scheme}://{settings.advertised_host}:{settings.port}/ws"
    log = get_logger("gateway", node=node)
    state = Readiness()
    metrics = GatewayMetrics()
    background: set[asyncio.Task[Any]] = set()
    hub: Hub | None = None

    async def on_nats_state(new: NatsState) -> None:
        state.nats_connected = new in ("connected", "reconnected")
        if new == "reconnected" and hub is not None:
            task = asyncio.create_task(hub.resync(), name="resync")
            background.add(task)
            task.add_done_callback(background.discard)

    async with contextlib.AsyncExitStack() as stack:
        stack.callback(listener.close)  # if serving never started (serving closes it too)
        nats_settings = nats_settings_of(settings)
        nc = await connect(nats_settings, name=f"haws-gateway {node}", on_state=on_nats_state)
        stack.push_async_callback(nc.close)
        js = nc.jetstream(timeout=settings.request_timeout)
        await ensure_stream(js, nats_settings)
        state.stream_ok = True
        # Every hot JetStream write's ack; stopped after the last writer (the
        # session keeper's final flush, the handlers), before the connection.
        acks = AckInbox(nc)
        await acks.start()
        stack.push_async_callback(acks.stop)
        direct = StreamReader(nc, timeout=settings.request_timeout)
        await direct.start()
        stack.push_async_callback(direct.stop)
        history = ReplayHistory(nc, direct, metrics, timeout=settings.replay_timeout)
        fence = Fence(settings.pause_threshold)
        load = LoopLoad(
            busy_lag=settings.write_coalesce_lag,
            coalesce=settings.write_coalesce,
            log=log,
            metrics=metrics,
        )
        load.start()
        stack.push_async_callback(load.stop)
        hub = Hub(
            NatsLiveFeed(nc, log, timeout=settings.request_timeout),
            history,
            metrics,
            log,
            fence=fence,
            recent=RecentLimits(settings.recent_messages, settings.recent_max_age),
            flusher=Flusher(log, load),
        )
        stack.push_async_callback(hub.close)
        stack.push_async_callback(_cancel_all, background)
        checker = asyncio.create_task(
            hub.check_quiet_topics(settings.topic_check_interval), name="quiet-topics"
        )
        background.add(checker)
        await ensure_kv(js, names.KV_SESSIONS, nats_settings, ttl=settings.session_ttl)
        records = KvSessionStore(acks, bucket=names.KV_SESSIONS, timeout=settings.request_timeout)
        sessions, presence = await start_sessions(
            stack,
            settings,
            node=node,
            hub=hub,
            records=records,
            calls=NatsPresence(nc, log, timeout=settings.request_timeout),
            fence=fence,
            log=log,
        )
        consul = consul_client(
            settings.consul_http, settings.request_timeout, token=settings.consul_token
        )
        stack.push_async_callback(close_consul, consul)
        auth = build_authenticator(settings, log)
        stack.push_async_callback(auth.close)
        await auth.start()
        deps = GatewayDeps(
            settings=settings,
            node=node,
            hub=hub,
            store=JetStreamStore(nc, acks, timeout=settings.request_timeout),
            history=history,
            metrics=metrics,
            log=log,
            sessions=sessions,
            presence=presence,
            auth=auth,
            limits=ConnectionLimits.from_settings(settings),
            consul=consul,
            state=state,
            load=load,
        )
        disconnects = DisconnectListener(nc, hub, records, log, node=node)
        await disconnects.start()
        stack.push_async_callback(disconnects.stop)
        app = create_app(deps)
        runner = await serve(app, listener, ssl_context=tls)
        stack.push_async_callback(runner.cleanup)
        registration = ConsulRegistration(
            consul,
            ServiceInstance(
                names.GATEWAY_SERVICE,
                node,
                settings.advertised_host,
                settings.port,
                {"node": node, "url": url, "version": version(), "started": str(int(time.time()))},
            ),
            ttl=settings.consul_ttl,
            deregister_after=settings.consul_deregister_after,
            meta_source=lambda: {
                "connections": str(len(deps.hub.connections)),
                "topics": str(len(deps.hub.topics)),
            },
        )
        state.registered = lambda: registration.registered
        stack.push_async_callback(registration.stop)
        await registration.start(timeout=max(settings.consul_ttl, 10.0))
        canary = _canary(deps, nc, js, registration)
        if canary is not None:
            await canary.start()
            stack.push_async_callback(canary.stop)
        log.info("gateway.ready", url=url, http=f"http://{settings.host}:{settings.port}")
        if started is not None:
            started(deps)
        await stop.wait()
        log.info("gateway.stopping")
        state.draining = True
        if canary is not None:
            await canary.stop()  # a probe coming back must not register us again
        await registration.stop()
        await drain_connections(deps, settings.drain_period, settings.drain_timeout - 1.0)
    log.info("gateway.stopped")


def _canary(
    deps: GatewayDeps,
    nc: NatsClient,
    js: JetStreamContext,
    registration: ConsulRegistration,
) -> Canary | None:
    """The node's backplane canary, wired to the deaf behaviour (None: turned off)."""
    settings = deps.settings
    if settings.canary_interval <= 0:
        return None
    deafness = Deafness(deps, nc, registration)
    return Canary(
        nc,
        js,
        deps.metrics,
        deps.log,
        node=deps.node,
        interval=settings.canary_interval,
        bound=settings.canary_bound,
        on_deaf=deafness.deaf,
        on_unready=deafness.unready,
        on_heard=deafness.heard,
        on_silent=deafness.silent,
    )


async def _cancel_all(tasks: set[asyncio.Task[Any]]) -> None:
    await stop_tasks(list(tasks))
