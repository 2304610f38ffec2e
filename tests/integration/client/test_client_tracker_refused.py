"""A presence tracker whose topic the gateway refuses to subscribe again after a
reconnect (the new token no longer grants it) ends with that refusal, instead of
waiting unsynced for a snapshot nothing will ever feed; a scripted server sends
exactly those frames."""

from __future__ import annotations

import pytest

from haws.protocol.errors import Forbidden
from tests.integration.client.conftest import MakeClient
from tests.integration.client.fake_gateway import FakeConn, FakeGateway
from tests.support.waiting import eventually

TOPIC = "room.1"
ALICE = {"session": "s-alice", "user": "alice"}


async def test_a_tracker_ends_with_the_refusal_of_its_resubscription(
    make_client: MakeClient,
) -> None:
    async def script(conn: FakeConn) -> None:
        await conn.welcome(session="s-refused")
        sub = await conn.recv("sub")
        assert sub["presence"] is True
        if conn.index == 0:
            await conn.send({"op": "ok", "id": sub["id"], "topic": TOPIC, "seq": 0})
            query = await conn.recv("presence")
            await conn.send(
                {"op": "presence", "id": query["id"], "topic": TOPIC, "members": [ALICE]}
            )
            await conn.close(1001, "going away")
            return
        await conn.send({"op": "error", "id": sub["id"], "code": "forbidden", "message": "no"})
        await conn.serve()

    async with FakeGateway(script) as fake:
        client = make_client([fake.url], discover=False)
        await client.connect()
        room = await client.track_presence(TOPIC)
        assert room.synced
        assert room.sessions == {"s-alice"}

        await eventually(lambda: room.closed, timeout=5, message="the tracker ended")
        assert isinstance(room.error, Forbidden)
        assert not room.synced
        assert room.sessions == {"s-alice"}  # the last list it knew stays readable
        with pytest.raises(Forbidden, match="no"):
            await room.wait_synced(timeout=1)
        assert client.topics == []
        assert len(fake.hellos) == 2
        await room.close()  # idempotent, and awaits the cancelled snapshot task
