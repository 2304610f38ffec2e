"""Closed connections leave no task behind: the soak's "flat asyncio tasks", in seconds.

Two real gateways (in this test's loop, on the shared nats-server and Consul)
and the SDK, cycling the ways the soak's churners and a rolling restart end a
connection: a new session, a resume on the other gateway (a takeover), a topic
moved, a publish, and a socket aborted without a close frame. After the cycles
the loop holds no more tasks than before them; a task per connection,
subscription or publish that nobody reaps fails it, naming the coroutines.
"""

from __future__ import annotations

import asyncio
import collections
import uuid

import pytest

from haws.client import Client
from tests.support.gateway_runner import RunningGateway
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

CYCLES = 30


def tasks_by_coroutine() -> collections.Counter[str]:
    return collections.Counter(
        getattr(t.get_coro(), "__qualname__", repr(t.get_coro())) for t in asyncio.all_tasks()
    )


def abort_socket(client: Client) -> None:
    """Drop the TCP connection under the SDK without a close frame (a dead peer)."""
    conn = client._session.conn
    response = conn.ws._response if conn is not None else None
    connection = response.connection if response is not None else None
    if connection is not None and connection.transport is not None:
        connection.transport.abort()


async def cycle(i: int, urls: list[str], topic: str, session: str | None, pub: Client) -> str:
    client = Client([urls[i % 2]], discover=False, session=session if i % 3 else None)
    try:
        await client.connect(timeout=10)
        sub = f"{topic}.{i % 4}"
        await client.subscribe(sub)
        await pub.publish(sub, {"i": i})
        if i % 2:
            await client.unsubscribe(sub)
            await client.subscribe(topic)
        if i % 5 == 4:
            abort_socket(client)
            await client.wait_connected(10)  # the SDK comes back; the gateway reaps the old
        return client.session or ""
    finally:
        await client.close()


async def test_connect_close_cycles_leave_the_task_count_where_it_started(
    gateway: RunningGateway, gateway2: RunningGateway
) -> None:
    urls = [gateway.url, gateway2.url]
    topic = f"t.{uuid.uuid4().hex[:8]}"
    pub = Client([gateway.url], discover=False)
    await pub.connect(timeout=10)
    try:
        session = await cycle(0, urls, topic, None, pub)  # warm: lazily started tasks
        before = tasks_by_coroutine()
        for i in range(1, CYCLES + 1):
            session = await cycle(i, urls, topic, session, pub)

        def back_to_start() -> bool:
            return sum(tasks_by_coroutine().values()) <= sum(before.values())

        try:
            await eventually(back_to_start, timeout=15, interval=0.2, message="tasks reaped")
        except AssertionError:
            left = (tasks_by_coroutine() - before).most_common(10)
            raise AssertionError(f"tasks left after {CYCLES} cycles: {left}") from None
    finally:
        await pub.close()
