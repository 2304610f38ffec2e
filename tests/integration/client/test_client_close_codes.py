"""Close codes and ``reconnect`` frames, with a scripted server that sends them on cue."""

from __future__ import annotations

import asyncio

import pytest

from haws.client import AuthenticationFailed, SessionTakenOver, State
from tests.integration.client.conftest import MakeClient
from tests.integration.client.fake_gateway import FakeConn, FakeGateway
from tests.support.waiting import eventually


async def reject_hello(conn: FakeConn) -> None:
    await conn.close(4001, "bad token")


async def test_4001_on_hello_stops_without_retrying(make_client: MakeClient) -> None:
    states: list[State] = []
    async with FakeGateway(reject_hello) as fake:
        client = make_client([fake.url], discover=False, on_state=states.append)
        with pytest.raises(AuthenticationFailed):
            await client.connect()
        assert client.state is State.CLOSED
        assert isinstance(client.error, AuthenticationFailed)
        assert len(fake.hellos) == 1
        assert states == [State.CONNECTING, State.CLOSED]
        with pytest.raises(AuthenticationFailed):
            await client.publish("t", 1)


async def test_4009_ends_the_client_and_its_iterators(make_client: MakeClient) -> None:
    taken = asyncio.Event()

    async def take_over(conn: FakeConn) -> None:
        await conn.welcome()
        await conn.recv("sub")  # answered below, after the iterator is waiting
        await taken.wait()
        await conn.send({"op": "reconnect", "reason": "takeover", "delay": 0})
        await conn.close(4009, "taken over")

    async with FakeGateway(take_over) as fake:
        client = make_client([fake.url], discover=False)
        await client.connect()
        stream = client.messages()
        subscribing = asyncio.create_task(client.subscribe("t.one"))
        await eventually(lambda: bool(fake.conns and fake.conns[0].received), timeout=5)
        taken.set()
        with pytest.raises(SessionTakenOver):
            async with asyncio.timeout(5):
                await anext(stream)
        with pytest.raises(SessionTakenOver):
            await subscribing
        assert client.state is State.CLOSED
        assert len(fake.hellos) == 1


async def test_reconnect_frame_waits_its_delay_and_moves_to_another_node(
    make_client: MakeClient,
) -> None:
    async def drain(conn: FakeConn) -> None:
        await conn.welcome(session="s-drain", node="a")
        await conn.send({"op": "reconnect", "reason": "drain", "delay": 300})
        await conn.close(4000, "node draining")

    async def serve(conn: FakeConn) -> None:
        await conn.welcome(session="s-drain", node="b")
        await conn.serve()

    async with FakeGateway(drain) as a, FakeGateway(serve) as b:
        client = make_client([a.url, b.url], discover=False)
        await client.connect()
        loop = asyncio.get_running_loop()
        left = loop.time()
        await eventually(lambda: client.node == "b", timeout=5, message="moved to b")
        assert loop.time() - left >= 0.3
        assert b.hellos[0]["session"] == "s-drain"
        assert len(a.hellos) == 1
        assert client.stats.resumes == 1


async def test_other_close_codes_reconnect_and_resume(make_client: MakeClient) -> None:
    async def flaky(conn: FakeConn) -> None:
        await conn.welcome(session="s-flaky")
        if conn.index < 2:
            await conn.close(1011, "internal error")
        else:
            await conn.serve()

    async with FakeGateway(flaky) as fake:
        client = make_client([fake.url], discover=False)
        await client.connect()
        await eventually(lambda: client.stats.connects == 3, timeout=5)
        await client.wait_connected(5)
        assert [h.get("session") for h in fake.hellos] == [None, "s-flaky", "s-flaky"]
        assert client.stats.reconnects == 2
