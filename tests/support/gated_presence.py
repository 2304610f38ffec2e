"""The memory presence with gates on claims, to hold a claim in flight.

``hold_before`` nodes' claims wait for ``gate`` before they are applied (the
request is on its way); ``hold_after`` nodes' claims are applied at once and
their reply waits for ``gate`` (the answer is on its way back). Everything else
is ``MemoryPresence``: with the gate open it passes the same
``PresenceContract``. Tests use it to watch a gateway while a claim is in
flight: ``welcome`` before it, events held behind it, a takeover overtaking it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection

from haws.common import presence_protocol as pp
from haws.gateway.broker.memory import MemoryBroker
from haws.gateway.broker.memory_presence import MemoryPresence


class GatedPresence(MemoryPresence):
    def __init__(
        self,
        broker: MemoryBroker | None = None,
        *,
        hold_before: Collection[str] = (),
        hold_after: Collection[str] = (),
    ) -> None:
        super().__init__(broker)
        self.gate = asyncio.Event()
        self.hold_before = set(hold_before)
        self.hold_after = set(hold_after)
        self.waiting: list[pp.Claim] = []
        """Claims held at a gate, in arrival order."""

    async def claim(self, claim: pp.Claim) -> pp.ClaimReply:
        if claim.node in self.hold_before and not self.gate.is_set():
            self.waiting.append(claim)
            await self.gate.wait()
        reply = await super().claim(claim)
        if claim.node in self.hold_after and not self.gate.is_set():
            self.waiting.append(claim)
            await self.gate.wait()
        return reply
