"""What a gateway does when its canary says it is deaf, and when it hears again.

Deaf: it stops being ready (``/ready`` 503, new upgrades refused with 503), asks
every client to ``reconnect`` elsewhere and closes them 4000 (their sessions stay
resumable from any node), and leaves Consul's passing list. While deaf, it asks
the NATS client to try its next server now and then (a NATS node cut from its
peers serves the connection but holds no quorum). Heard again:
ready, and registered in Consul again, unless the node is draining anyway.
"""

from __future__ import annotations

import contextlib
import random

from nats.errors import Error as NatsError

from haws.common import frames
from haws.common.discovery import ConsulRegistration
from haws.common.errors import CloseCode
from haws.gateway.deps import GatewayDeps
from haws.gateway.drain import RECONNECT_JITTER_MS

REREGISTER_WAIT = 1.0
"""Seconds ``heard`` waits for the first registration; the rest goes on in the background."""


class Deafness:
    def __init__(self, deps: GatewayDeps, registration: ConsulRegistration) -> None:
        self._deps = deps
        self._registration = registration

    async def deaf(self) -> None:
        deps = self._deps
        deps.state.backplane_ok = False
        moved = 0
        for conn in list(deps.hub.connections):
            if not conn.closing:
                conn.send_obj(frames.reconnect("drain", random.randint(0, RECONNECT_JITTER_MS)))
                conn.close(CloseCode.DRAINED, "node lost its backplane")
                moved += 1
        deps.log.warning("deaf.clients_moved", connections=moved)
        await self._registration.stop()  # deregister: Consul may still hear us

    async def silent(self) -> None:
        """Still deaf: the NATS client moves on to the next server of its pool
        (cut from the broker, it would only find out after its pings ran out)."""
        self._deps.log.info("deaf.nats_next_server")
        with contextlib.suppress(NatsError, OSError):
            await self._deps.nc.force_reconnect()

    async def heard(self) -> None:
        deps = self._deps
        deps.state.backplane_ok = True
        if deps.state.draining:
            return
        with contextlib.suppress(TimeoutError):
            await self._registration.start(timeout=REREGISTER_WAIT)
