"""What the gateway's handlers need, built once in ``__main__`` (or by tests)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import consul.aio
from nats.aio.client import Client as NatsClient

from haws.common.logs import EventLogger
from haws.gateway.auth import Authenticator
from haws.gateway.conn_limits import ConnectionLimits
from haws.gateway.history import History
from haws.gateway.hub import Hub
from haws.gateway.metrics import GatewayMetrics
from haws.gateway.presence_link import PresenceLink
from haws.gateway.publisher import Publisher
from haws.gateway.session_keeper import SessionKeeper
from haws.gateway.settings import GatewaySettings


@dataclass
class NodeState:
    """Readiness inputs, flipped by the NATS callbacks, Consul and the drain."""

    nats_connected: bool = False
    stream_ok: bool = False
    draining: bool = False
    backplane_ok: bool = True
    """False while the canary's probes do not come back (see ``canary``)."""
    registered: Callable[[], bool] = lambda: False

    def not_ready_reason(self) -> str | None:
        if self.draining:
            return "draining"
        if not self.nats_connected:
            return "nats disconnected"
        if not self.backplane_ok:
            return "backplane canary lost"
        if not self.stream_ok:
            return "stream unavailable"
        if not self.registered():
            return "not registered in consul"
        return None


@dataclass
class GatewayDeps:
    settings: GatewaySettings
    node: str
    nc: NatsClient
    hub: Hub
    publisher: Publisher
    history: History
    metrics: GatewayMetrics
    log: EventLogger
    sessions: SessionKeeper
    presence: PresenceLink
    auth: Authenticator
    """Verifies ``hello.token`` and ``refresh`` (anonymous mode: lets everyone in)."""
    limits: ConnectionLimits
    """Connections held per node, client address and user."""
    consul: consul.aio.Consul | None = None
    state: NodeState = field(default_factory=NodeState)
