"""Authorisation: sub, pub, presence and resume check the token's grants."""

from __future__ import annotations

import pytest

from tests.integration.conftest import Connect
from tests.integration.security.conftest import hello_refused, token
from tests.support.gateway_runner import RunningGateway
from tests.support.waiting import eventually
from tests.support.ws_client import assert_chain

pytestmark = pytest.mark.integration


async def test_topics_outside_the_grants_are_forbidden_and_the_connection_stays(
    jwt_gateway: RunningGateway, connect: Connect, topic: str
) -> None:
    observer = await connect(jwt_gateway.url, token=token("observer"))
    await observer.sub(f"{topic}.private")
    alice = await connect(
        jwt_gateway.url, token=token("alice", sub=[f"{topic}.public.*"], pub=[f"{topic}.public.in"])
    )
    for frame in (
        {"op": "sub", "topic": f"{topic}.private"},
        {"op": "sub", "topic": f"{topic}.public.a.b"},  # '*' is one token only
        {"op": "presence", "topic": f"{topic}.private"},
        {"op": "pub", "topic": f"{topic}.private", "data": "sneaky"},
        {"op": "pub", "topic": f"{topic}.public.out", "data": "sneaky"},
    ):
        reply = await alice.request(frame)
        assert (reply["op"], reply["code"]) == ("error", "forbidden"), frame
    # What is granted works on the same connection.
    assert (await alice.sub(f"{topic}.public.in"))["op"] == "ok"
    assert (await alice.pub(f"{topic}.public.in", "hello"))["op"] == "ack"
    # (No presence service runs here: the query may fail, but not as forbidden.)
    presence = await alice.request({"op": "presence", "topic": f"{topic}.public.in"})
    assert presence.get("code") != "forbidden"
    # Nothing forbidden was stored: the observer's next message follows its first.
    await observer.pub(f"{topic}.private", "mine")
    (msg,) = await observer.wait_msgs(f"{topic}.private", 1)
    assert msg["data"] == "mine"
    assert msg["prev"] == 0
    forbidden = jwt_gateway.deps.metrics.errors.labels("forbidden")._value.get()
    assert forbidden == 5


async def test_a_resume_regains_only_what_the_new_token_grants(
    jwt_gateway: RunningGateway, connect: Connect, topic: str
) -> None:
    first = await connect(jwt_gateway.url, token=token("alice"))
    session = first.others[0]["session"]
    await first.sub(f"{topic}.a")
    await first.sub(f"{topic}.b", presence=True)
    ok = await first.pub(f"{topic}.a", 0)
    await first.wait_msgs(f"{topic}.a", 1)
    await first.close()
    await eventually(lambda: not jwt_gateway.deps.hub.connections, message="first closed")

    publisher = await connect(jwt_gateway.url, token=token("publisher"))
    missed = [await publisher.pub(f"{topic}.a", n) for n in (1, 2)]
    await publisher.pub(f"{topic}.b", "not for alice any more")
    await publisher.pub(f"{topic}.c", "never granted")

    narrower = token("alice", sub=[f"{topic}.a"], pub=[])
    again = await connect(
        jwt_gateway.url, token=narrower, session=session, cursors={f"{topic}.c": 0}
    )
    assert again.others[0]["resumed"] is True
    denied = {(await again.recv("error"))["topic"] for _ in range(2)}
    assert denied == {f"{topic}.b", f"{topic}.c"}
    assert (await again.recv("recovered"))["topic"] == f"{topic}.a"
    msgs = await again.wait_msgs(f"{topic}.a", 2)
    assert [m["seq"] for m in msgs] == [a["seq"] for a in missed]
    assert_chain(msgs, first_prev=ok["seq"])
    conn = jwt_gateway.deps.hub.by_session[session]
    assert set(conn.subs) == {f"{topic}.a"}
    assert again.msgs[f"{topic}.b"] == []
    assert again.msgs[f"{topic}.c"] == []


async def test_a_session_cannot_be_resumed_by_another_user(
    jwt_gateway: RunningGateway, connect: Connect, topic: str
) -> None:
    alice = await connect(jwt_gateway.url, token=token("alice"))
    session = alice.others[0]["session"]
    await alice.sub(topic)
    # While alice is connected: no takeover by mallory.
    thief = await connect(jwt_gateway.url, hello=False)
    assert await hello_refused(thief, token=token("mallory"), session=session) == 4001
    assert (await alice.request({"op": "ping"}))["op"] == "pong"
    # After alice left, her stored record still names her.
    await alice.close()
    await eventually(lambda: not jwt_gateway.deps.hub.connections, message="alice closed")
    record = await jwt_gateway.deps.sessions.load(session)
    assert record is not None
    assert record.user == "alice"
    thief = await connect(jwt_gateway.url, hello=False)
    assert await hello_refused(thief, token=token("mallory"), session=session) == 4001
    # Alice herself resumes fine.
    back = await connect(jwt_gateway.url, token=token("alice"), session=session)
    assert back.others[0]["resumed"] is True
