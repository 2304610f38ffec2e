"""What a gateway does when its canary says it is deaf, and when it hears again.

Deaf (cut from NATS): it stops being ready (``/ready`` 503, new upgrades refused
with 503), asks every client to ``reconnect`` elsewhere and closes them 4000
(their sessions stay resumable from any node), and leaves Consul's passing list.
Unready (its NATS server has no quorum): not ready either, but the clients stay.
While either lasts, the NATS client tries its next server now and then. Heard again:
ready, and registered in Consul again, unless the node is draining anyway.
"""

from __future__ import annotations

import contextlib
import random

from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError

from haws.common import frames
from haws.common.discovery import ConsulRegistration
from haws.gateway.deps import GatewayDeps
from haws.gateway.drain import RECONNECT_JITTER_MS
from haws.protocol.errors import CloseCode

REREGISTER_WAIT = 1.0
"""Seconds ``heard`` waits for the first registration; the rest goes on in the background."""


class Deafness:
    def __init__(self, deps: GatewayDeps, nc: NatsClient, registration: ConsulRegistration) -> None:
        self._deps = deps
        self._nc = nc
        self._registration = registration
        self._deregistered = False

    async def deaf(self) -> None:
        """Cut from NATS: not ready, every client told to move, out of Consul."""
        deps = self._deps
        deps.state.backplane_ok = False
        moved = 0
        for conn in list(deps.hub.connections):
            if not conn.closing:
                conn.send_obj(frames.reconnect("drain", random.randint(0, RECONNECT_JITTER_MS)))
                conn.close(CloseCode.DRAINED, "node lost its backplane")
                moved += 1
        deps.log.warning("deaf.clients_moved", connections=moved)
        self._deregistered = True
        await self._registration.stop()  # deregister: Consul may still hear us

    async def unready(self) -> None:
        """The node's NATS server has no quorum: not ready, but the clients stay
        (the NATS client moves to another server, and they only wait meanwhile)."""
        self._deps.state.backplane_ok = False

    async def silent(self) -> None:
        """Still lost: the NATS client moves on to the next server of its pool
        (cut from the broker, it would only find out after its pings ran out)."""
        self._deps.log.info("deaf.nats_next_server")
        with contextlib.suppress(NatsError, OSError):
            await self._nc.force_reconnect()

    async def heard(self) -> None:
        """Probes come back: ready, and in Consul again if ``deaf`` took us out."""
        deps = self._deps
        deps.state.backplane_ok = True
        if deps.state.draining or not self._deregistered:
            return
        self._deregistered = False
        with contextlib.suppress(TimeoutError):
            await self._registration.start(timeout=REREGISTER_WAIT)
