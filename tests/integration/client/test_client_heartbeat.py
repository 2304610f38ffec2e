"""Half-open detection: a node that stops answering is left within ping_interval + ping_timeout."""

from __future__ import annotations

import asyncio

from haws.client import State
from tests.integration.client.conftest import MakeClient
from tests.integration.client.fake_gateway import FakeConn, FakeGateway
from tests.support.waiting import eventually

PING_INTERVAL = 0.3
PING_TIMEOUT = 0.3


async def test_silent_node_is_dropped_and_the_client_fails_over(make_client: MakeClient) -> None:
    async def silent(conn: FakeConn) -> None:
        await conn.welcome(session="s-hb", node="silent")
        await conn.ignore_all()

    async def alive(conn: FakeConn) -> None:
        await conn.welcome(session="s-hb", node="alive")
        await conn.serve()

    states: list[State] = []
    async with FakeGateway(silent) as quiet, FakeGateway(alive) as good:
        client = make_client(
            [quiet.url, good.url],
            discover=False,
            ping_interval=PING_INTERVAL,
            ping_timeout=PING_TIMEOUT,
            on_state=states.append,
        )
        await client.connect()
        assert client.node == "silent"
        loop = asyncio.get_running_loop()
        started = loop.time()
        await eventually(lambda: client.node == "alive", timeout=5, message="failover")
        # Detection within interval + timeout, plus one backoff step (cap 0.5 s here).
        assert loop.time() - started < PING_INTERVAL + PING_TIMEOUT + 0.5 + 0.5
        assert any(f.get("op") == "ping" for f in quiet.conns[0].received)
        assert good.hellos[0]["session"] == "s-hb"
        assert states[-2:] == [State.RECONNECTING, State.CONNECTED]


async def test_an_answering_node_is_kept(make_client: MakeClient) -> None:
    async def alive(conn: FakeConn) -> None:
        await conn.welcome()
        await conn.serve()

    async with FakeGateway(alive) as good:
        client = make_client(
            [good.url], discover=False, ping_interval=0.1, ping_timeout=PING_TIMEOUT
        )
        await client.connect()
        await eventually(
            lambda: sum(f.get("op") == "ping" for f in good.conns[0].received) >= 5, timeout=5
        )
        assert client.stats.connects == 1
        assert client.state is State.CONNECTED
