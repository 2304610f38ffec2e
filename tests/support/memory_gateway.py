"""A whole gateway on the in-memory broker and presence: no nats-server, no Consul.

Composed as ``service.run_gateway`` composes the real one (hub, session keeper,
presence link, dependencies), with the memory implementations of the broker
seams in place of JetStream. Unit tests drive its ``dispatcher`` and ``hub``
with socketless connections; integration tests serve ``create_app(deps)`` on
loopback and talk to it as a client would.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from haws.common import presence_protocol as pp
from haws.common.logs import get_logger
from haws.gateway.broker.memory import MemoryBroker
from haws.gateway.broker.memory_presence import MemoryPresence
from haws.gateway.commands.dispatcher import Dispatcher
from haws.gateway.delivery.connection import Connection
from haws.gateway.deps import GatewayDeps, Readiness
from haws.gateway.fanout.hub import Hub
from haws.gateway.fanout.recent_window import RecentLimits
from haws.gateway.metrics import GatewayMetrics
from haws.gateway.security.auth import build_authenticator
from haws.gateway.security.conn_limits import ConnectionLimits
from haws.gateway.security.grants import ANONYMOUS, Principal
from haws.gateway.sessions.fence import Fence
from haws.gateway.sessions.startup import start_sessions
from haws.gateway.sessions.store import MemorySessionStore
from haws.gateway.settings import GatewaySettings
from tests.support.fake_socket import FakeTransport, socketless_connection

NODE = "memory-1"


@dataclass
class MemoryGateway:
    deps: GatewayDeps
    broker: MemoryBroker
    presence: MemoryPresence
    records: MemorySessionStore
    dispatcher: Dispatcher

    @property
    def hub(self) -> Hub:
        return self.deps.hub

    async def connect(
        self, session: str, *, user: str | None = None, principal: Principal = ANONYMOUS
    ) -> tuple[Connection, FakeTransport]:
        """A connection past ``hello``, registered and claimed as ``ws_endpoint`` does."""
        conn, transport, _ = socketless_connection(session=session, user=user, principal=principal)
        self.hub.add(conn)
        claim = pp.Claim(session=session, node=NODE, conn=conn.conn_id, user=user)
        conn.claimed(await self.deps.presence.claim(claim))
        return conn, transport

    async def disconnect(self, conn: Connection) -> None:
        """What ``ws_endpoint``'s ``finally`` does with a connection that ended."""
        await conn.stop()
        self.deps.presence.event(pp.Event("close", conn.session, NODE, conn.conn_id, conn.epoch))
        await self.deps.sessions.closed(conn)
        self.hub.discard(conn)


def memory_settings(**overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "session_flush_interval": 0.2,
        "session_cursor_interval": 0.2,
        "topic_check_interval": 0.3,
    }
    values.update(overrides)
    return GatewaySettings(**values)


@contextlib.asynccontextmanager
async def memory_gateway(
    replica: Callable[[MemoryBroker], MemoryPresence] = MemoryPresence, **overrides: Any
) -> AsyncIterator[MemoryGateway]:
    """``replica`` builds the presence replica on the gateway's broker (a gated one
    holds claims in flight)."""
    settings = memory_settings(**overrides)
    log = get_logger("gateway", node=NODE)
    metrics = GatewayMetrics()
    broker = MemoryBroker()
    calls = replica(broker)
    fence = Fence(settings.pause_threshold)
    hub = Hub(
        broker,
        broker,
        metrics,
        log,
        fence=fence,
        recent=RecentLimits(settings.recent_messages, settings.recent_max_age),
    )
    records = MemorySessionStore()
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(hub.close)
        stack.push_async_callback(broker.close)
        sessions, presence = await start_sessions(
            stack,
            settings,
            node=NODE,
            hub=hub,
            records=records,
            calls=calls,
            fence=fence,
            log=log,
        )
        auth = build_authenticator(settings, log)
        stack.push_async_callback(auth.close)
        await auth.start()
        state = Readiness(nats_connected=True, stream_ok=True, registered=lambda: True)
        deps = GatewayDeps(
            settings=settings,
            node=NODE,
            hub=hub,
            store=broker,
            history=broker,
            metrics=metrics,
            log=log,
            sessions=sessions,
            presence=presence,
            auth=auth,
            limits=ConnectionLimits.from_settings(settings),
            state=state,
        )
        yield MemoryGateway(deps, broker, calls, records, Dispatcher(deps))
