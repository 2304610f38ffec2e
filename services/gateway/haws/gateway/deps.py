"""What the gateway's handlers need, built once in ``service.run_gateway`` (or by tests)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import consul.aio

from haws.common.logs import EventLogger
from haws.gateway.broker.seams import History, MessageStore
from haws.gateway.delivery.load import LoopLoad
from haws.gateway.fanout.hub import Hub
from haws.gateway.metrics import GatewayMetrics
from haws.gateway.security.auth import Authenticator
from haws.gateway.security.conn_limits import ConnectionLimits
from haws.gateway.sessions.keeper import SessionKeeper
from haws.gateway.sessions.presence_link import PresenceLink
from haws.gateway.settings import GatewaySettings


@dataclass
class Readiness:
    """What /ready answers from, flipped by the NATS callbacks, Consul and the drain."""

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
    """This gateway's name: in Consul, presence claims and ``welcome``."""
    hub: Hub
    store: MessageStore
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
    state: Readiness = field(default_factory=Readiness)
    load: LoopLoad | None = None
    """Whether the loop is behind, so socket writes gather (None: never, as in tests)."""
