"""What the session keeper writes: new subscriptions at the next flush, a moved
cursor only every ``cursor_interval``, the final record of a closed connection
at once, and an unchanged record again before the store's TTL would expire it."""

from __future__ import annotations

from typing import Any

from haws.common.logs import get_logger
from haws.common.session_record import SessionRecord, TopicState
from haws.gateway.delivery.send_queue import SendQueue
from haws.gateway.fanout.subscription import Subscription
from haws.gateway.sessions.keeper import SessionKeeper
from haws.gateway.sessions.store import MemorySessionStore
from tests.support.clock import ManualClock


class FakeTopic:
    def __init__(self, last_seq: int) -> None:
        self.last_seq = last_seq


class FakeHub:
    def __init__(self) -> None:
        self.connections: set[Any] = set()
        self.topics: dict[str, FakeTopic] = {}


class FakeConnection:
    taken_over = False
    user = None

    def __init__(self, session: str) -> None:
        self.session = session
        self.subs: dict[str, Subscription] = {}
        self.queue = SendQueue(16, 1 << 16)

    def subscribe(self, topic: str) -> None:
        self.subs[topic] = Subscription(self, topic, live=True, presence=False, seq=0)  # type: ignore[arg-type]


class CountingStore(MemorySessionStore):
    def __init__(self) -> None:
        super().__init__()
        self.puts = 0

    async def put(self, session: str, record: SessionRecord) -> None:
        self.puts += 1
        await super().put(session, record)


def setup() -> tuple[SessionKeeper, CountingStore, FakeHub, FakeConnection, ManualClock]:
    store, hub, clock = CountingStore(), FakeHub(), ManualClock()
    keeper = SessionKeeper(
        store, hub, get_logger("test"), node="n1", interval=1.0,  # type: ignore[arg-type]
        cursor_interval=5.0, ttl=100.0, clock=clock,
    )  # fmt: skip
    conn = FakeConnection("s1")
    hub.connections.add(conn)
    hub.topics["a"] = FakeTopic(10)
    conn.subscribe("a")
    return keeper, store, hub, conn, clock


def cursor(store: MemorySessionStore, topic: str) -> int:
    return store.records["s1"].subs[topic].seq


async def test_a_moved_cursor_waits_for_the_cursor_interval() -> None:
    keeper, store, hub, _, clock = setup()
    await keeper.flush()
    assert cursor(store, "a") == 10
    for _ in range(4):
        clock.now += 1.0
        hub.topics["a"].last_seq += 1
        await keeper.flush()
    assert store.puts == 1
    assert cursor(store, "a") == 10
    clock.now += 1.0
    await keeper.flush()
    assert store.puts == 2
    assert cursor(store, "a") == 14


async def test_a_new_subscription_is_written_at_the_next_flush() -> None:
    keeper, store, hub, conn, clock = setup()
    await keeper.flush()
    clock.now += 1.0
    hub.topics["b"] = FakeTopic(3)
    conn.subscribe("b")
    await keeper.flush()
    assert store.records["s1"].subs == {"a": TopicState(10), "b": TopicState(3)}


async def test_a_closed_connection_writes_its_last_cursor_at_once() -> None:
    keeper, store, hub, conn, clock = setup()
    await keeper.flush()
    clock.now += 0.5
    hub.topics["a"].last_seq = 12
    await keeper.closed(conn)  # type: ignore[arg-type]
    assert cursor(store, "a") == 12


async def test_an_unchanged_record_is_refreshed_before_the_ttl() -> None:
    keeper, store, _, _, clock = setup()
    await keeper.flush()
    clock.now += 49.0
    await keeper.flush()
    assert store.puts == 1
    clock.now += 1.0  # half the TTL since the last write
    await keeper.flush()
    assert store.puts == 2
