"""Resume over the wire: the hello carries session and cursors; duplicates are dropped
and prev breaks reported, with a scripted server that sends exactly those frames."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from haws.protocol.errors import Forbidden
from tests.integration.client.conftest import MakeClient, take
from tests.integration.client.fake_gateway import FakeConn, FakeGateway
from tests.support.waiting import eventually

TOPIC = "room.1"


def msg(seq: int, prev: int, data: Any = None) -> dict[str, Any]:
    return {"op": "msg", "topic": TOPIC, "seq": seq, "prev": prev, "ts": 1, "data": data or seq}


async def test_resume_sends_cursors_drops_duplicates_and_reports_gaps(
    make_client: MakeClient,
) -> None:
    async def script(conn: FakeConn) -> None:
        await conn.welcome(session="s-resume")
        if conn.index == 0:
            sub = await conn.recv("sub")
            assert "since" not in sub
            await conn.send({"op": "ok", "id": sub["id"], "topic": TOPIC, "seq": 10})
            await conn.send(msg(11, 10))
            await conn.send(msg(12, 11))
            await conn.close(4008, "slow consumer")
            return
        # The resume: history after the cursor, overlapping by one, then a hole.
        await conn.send(msg(12, 11, "again"))
        await conn.send(msg(13, 12))
        await conn.send({"op": "recovered", "topic": TOPIC, "complete": True})
        await conn.send(msg(15, 14))
        await conn.send(
            {"op": "recovered", "topic": TOPIC, "complete": False, "from": 16, "to": 20}
        )
        await conn.send(msg(21, 15))
        await conn.serve()

    gaps: list[tuple[str, int, int]] = []
    async with FakeGateway(script) as fake:
        client = make_client([fake.url], discover=False, on_gap=lambda *gap: gaps.append(gap))
        await client.connect()
        stream = client.subscription(TOPIC)
        await client.subscribe(TOPIC)
        got = await take(stream, 5)

    assert [(m.seq, m.data) for m in got] == [(11, 11), (12, 12), (13, 13), (15, 15), (21, 21)]
    assert fake.hellos[1] == {
        "op": "hello",
        "v": 1,
        "batch": True,
        "session": "s-resume",
        "cursors": {TOPIC: 12},
    }
    assert gaps == [(TOPIC, 13, 14), (TOPIC, 15, 20)]
    stats = client.stats
    assert (stats.duplicates_dropped, stats.gaps, stats.resumes) == (1, 2, 1)


async def test_subscription_before_any_message_resumes_from_the_ok_seq(
    make_client: MakeClient,
) -> None:
    async def script(conn: FakeConn) -> None:
        await conn.welcome(session="s-ok")
        if conn.index == 0:
            sub = await conn.recv("sub")
            await conn.send({"op": "ok", "id": sub["id"], "topic": TOPIC, "seq": 41})
            await conn.close(1001, "going away")
            return
        await conn.serve()

    async with FakeGateway(script) as fake:
        client = make_client([fake.url], discover=False)
        await client.connect()
        await client.subscribe(TOPIC)
        await eventually(lambda: len(fake.hellos) == 2, timeout=5)
    assert fake.hellos[1]["cursors"] == {TOPIC: 41}


async def test_a_subscribe_cut_off_before_its_ok_is_sent_again(make_client: MakeClient) -> None:
    async def script(conn: FakeConn) -> None:
        await conn.welcome(session="s-cut")
        if conn.index == 0:
            await conn.recv("sub")
            await conn.close(1011, "lost it")
            return
        await conn.serve(seq=7)

    async with FakeGateway(script) as fake:
        client = make_client([fake.url], discover=False)
        await client.connect()
        async with asyncio.timeout(5):
            await client.subscribe(TOPIC, since=3)
    again = [f for f in fake.conns[1].received if f["op"] == "sub"]
    assert [(f["topic"], f["since"]) for f in again] == [(TOPIC, 3)]
    assert "cursors" not in fake.hellos[1]  # not confirmed yet: sub, not hello-restore
    assert client.topics == [TOPIC]


async def test_publish_retries_unavailable_with_the_same_mid_and_raises_other_errors(
    make_client: MakeClient,
) -> None:
    async def script(conn: FakeConn) -> None:
        await conn.welcome()
        first = await conn.recv("pub")
        await conn.send({"op": "error", "id": first["id"], "code": "unavailable", "message": "x"})
        retry = await conn.recv("pub")
        await conn.send({"op": "ack", "id": retry["id"], "seq": 5, "dup": True})
        bad = await conn.recv("pub")
        await conn.send({"op": "error", "id": bad["id"], "code": "forbidden", "message": "no"})
        await conn.serve()

    async with FakeGateway(script) as fake:
        client = make_client([fake.url], discover=False)
        await client.connect()
        ack = await client.publish(TOPIC, "hello")
        assert (ack.seq, ack.dup) == (5, True)
        with pytest.raises(Forbidden, match="no"):
            await client.publish(TOPIC, "denied")
    pubs = [f for f in fake.conns[0].received if f["op"] == "pub"]
    assert pubs[0]["mid"] == pubs[1]["mid"]
    assert len(pubs[0]["mid"]) == 32
    assert client.stats.sent == 3
    assert client.stats.acked == 1
