"""A round costs nothing when nothing is due: no task, no record built, no put;
when many records are due, they go out from a bounded number of workers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from haws.common.logs import get_logger
from haws.common.session_record import SessionRecord
from haws.gateway.broker.memory import MemoryBroker
from haws.gateway.delivery.connection import Connection
from haws.gateway.fanout.hub import Hub
from haws.gateway.metrics import GatewayMetrics
from haws.gateway.sessions.keeper import SessionKeeper
from haws.gateway.sessions.store import MemorySessionStore
from tests.support.clock import ManualClock
from tests.support.fake_socket import socketless_connection
from tests.support.keeper_hub import keeper_hub

T = TypeVar("T")

CONNECTIONS = 200
CONCURRENCY = 8


class CountingStore(MemorySessionStore):
    def __init__(self) -> None:
        super().__init__()
        self.puts = 0
        self.in_flight = 0
        self.most_in_flight = 0

    async def put(self, session: str, record: SessionRecord, *, last: int | None = None) -> int:
        self.puts += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0)  # a put that yields, as a KV round trip does
            return await super().put(session, record, last=last)
        finally:
            self.in_flight -= 1


@contextmanager
def counted_tasks() -> Iterator[list[str]]:
    """The names of the tasks the running loop creates inside the block."""
    loop = asyncio.get_running_loop()
    names: list[str] = []
    previous = loop.get_task_factory()

    def factory(
        loop: asyncio.AbstractEventLoop,
        coro: Generator[Any, None, T] | Coroutine[Any, Any, T],
        /,
        **kwargs: Any,
    ) -> asyncio.Future[T]:
        names.append(getattr(coro, "__qualname__", repr(coro)))
        return asyncio.Task(coro, loop=loop, **kwargs)

    loop.set_task_factory(factory)
    try:
        yield names
    finally:
        loop.set_task_factory(previous)


@dataclass
class Node:
    keeper: SessionKeeper
    store: CountingStore
    hub: Hub
    broker: MemoryBroker
    clock: ManualClock
    conns: list[Connection]


@pytest.fixture
async def node() -> AsyncIterator[Node]:
    store = CountingStore()
    parts = keeper_hub(store, concurrency=CONCURRENCY)
    keeper, hub, broker, clock = parts.keeper, parts.hub, parts.broker, parts.clock
    conns = []
    for i in range(CONNECTIONS):
        conn, _, _ = socketless_connection(session=f"s{i}")
        hub.add(conn)
        await hub.subscribe(conn, f"t.{i % 4}", since=None, presence=False, room_timeout=5)
        conns.append(conn)
    try:
        yield Node(keeper, store, hub, broker, clock, conns)
    finally:
        for conn in conns:
            await conn.stop()
            hub.discard(conn)
        await hub.close()
        await broker.close()


async def test_a_round_with_nothing_due_makes_no_task_and_no_put(node: Node) -> None:
    await node.keeper.flush()
    assert node.store.puts == CONNECTIONS
    for _ in range(4):  # idle for less than the cursor interval
        node.clock.now += 1.0
        with counted_tasks() as tasks:
            await node.keeper.flush()
        assert tasks == []
    assert node.store.puts == CONNECTIONS


async def test_due_records_go_out_from_a_bounded_number_of_workers(node: Node) -> None:
    with counted_tasks() as tasks:
        await node.keeper.flush()
    assert node.store.puts == CONNECTIONS
    assert len(tasks) == CONCURRENCY
    assert node.store.most_in_flight == CONCURRENCY


async def test_only_the_due_records_are_written(node: Node) -> None:
    await node.keeper.flush()
    node.clock.now += 1.0
    await node.hub.subscribe(node.conns[7], "t.new", since=None, presence=False, room_timeout=5)
    with counted_tasks() as tasks:
        await node.keeper.flush()
    assert tasks == []  # one due record: written by the round itself
    assert node.store.puts == CONNECTIONS + 1
    assert set(node.store.records["s7"].subs) == {"t.3", "t.new"}


async def test_a_concurrency_below_one_is_refused() -> None:
    broker = MemoryBroker()
    log = get_logger("test")
    hub = Hub(broker, broker, GatewayMetrics(), log)
    try:
        with pytest.raises(ValueError, match="concurrency"):
            SessionKeeper(
                MemorySessionStore(),
                hub,
                log,
                node="n1",
                interval=1.0,
                cursor_interval=5.0,
                ttl=100.0,
                concurrency=0,
            )
    finally:
        await hub.close()
        await broker.close()
