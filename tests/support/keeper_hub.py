"""A session keeper on a memory-broker hub, as the keeper tests build it.

Node ``n1``, a round every second, moved cursors every 5 s, a TTL of 100 s and a
manual clock: each test moves time itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from haws.common.logs import get_logger
from haws.gateway.broker.memory import MemoryBroker
from haws.gateway.fanout.hub import Hub
from haws.gateway.metrics import GatewayMetrics
from haws.gateway.sessions.keeper import FLUSH_CONCURRENCY, SessionKeeper
from haws.gateway.sessions.store import SessionStore
from tests.support.clock import ManualClock

NODE = "n1"


@dataclass
class KeeperHub:
    keeper: SessionKeeper
    hub: Hub
    broker: MemoryBroker
    clock: ManualClock

    async def close(self) -> None:
        await self.hub.close()
        await self.broker.close()


def keeper_hub(store: SessionStore, *, concurrency: int = FLUSH_CONCURRENCY) -> KeeperHub:
    broker, clock = MemoryBroker(), ManualClock()
    log = get_logger("test")
    hub = Hub(broker, broker, GatewayMetrics(), log)
    keeper = SessionKeeper(
        store, hub, log, node=NODE, interval=1.0, cursor_interval=5.0, ttl=100.0,
        clock=clock, concurrency=concurrency,
    )  # fmt: skip
    return KeeperHub(keeper, hub, broker, clock)
