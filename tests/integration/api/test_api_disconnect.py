"""``disconnect`` closes a user's connections on every node with the documented
code; ``reconnect: false`` ends the session so a resume finds nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from haws.protocol.errors import CloseCode
from haws.server import token
from tests.integration.conftest import Connect
from tests.support.api_caller import ApiCaller
from tests.support.gateway_runner import RunningGateway, gateway_settings, running_gateway
from tests.support.waiting import eventually

SECRET = "a-test-secret-of-at-least-32-bytes!!"
GRANTS = {"sub": [">"], "pub": [">"]}


@pytest.fixture
async def jwt_gateways(
    shared_nats: Any, consul_agent: Any
) -> AsyncIterator[tuple[RunningGateway, RunningGateway]]:
    settings = gateway_settings(
        shared_nats.url, consul_agent.http_url, auth_mode="jwt", auth_hs256_secret=SECRET
    )
    async with running_gateway(settings) as one, running_gateway(settings) as two:
        yield one, two


async def test_disconnect_a_user_closes_it_on_both_nodes_and_spares_others(
    http: ApiCaller,
    jwt_gateways: tuple[RunningGateway, RunningGateway],
    connect: Connect,
    user: str,
    topic: str,
) -> None:
    one, two = jwt_gateways
    mine = token(user, GRANTS, 60, key=SECRET)
    a = await connect(one.url, token=mine)
    b = await connect(two.url, token=mine)
    other = await connect(one.url, token=token(f"{user}-other", GRANTS, 60, key=SECRET))
    await a.sub(topic)
    session_a = a.others[0]["session"]

    answer = await http.ok("disconnect", {"user": user, "reason": "banned for a minute"})

    assert answer["closed"] == 2
    assert set(answer["nodes"]) >= {one.deps.node, two.deps.node}
    assert await a.wait_closed() == CloseCode.SERVER_DISCONNECT
    assert await b.wait_closed() == CloseCode.SERVER_DISCONNECT
    assert a.ws.close_code == 4010
    assert (await other.request({"op": "ping"}))["op"] == "pong"
    # 4010 may come back: the session resumes, once node one has written its record
    # (the client sees the close frame before the node's cleanup has run).

    async def recorded() -> bool:
        return await two.deps.sessions.load(session_a) is not None

    await eventually(recorded, timeout=10, message="the closed session's record")
    back = await connect(two.url, hello=False)
    welcome = await back.hello(token=mine, session=session_a)
    assert welcome["resumed"] is True


async def test_disconnect_without_reconnect_ends_the_session(
    http: ApiCaller,
    jwt_gateways: tuple[RunningGateway, RunningGateway],
    connect: Connect,
    user: str,
    topic: str,
) -> None:
    one, two = jwt_gateways
    mine = token(user, GRANTS, 60, key=SECRET)
    client = await connect(one.url, token=mine)
    await client.sub(topic)
    session = client.others[0]["session"]

    answer = await http.ok("disconnect", {"session": session, "reconnect": False})

    assert answer["closed"] == 1
    assert await client.wait_closed() == CloseCode.SESSION_ENDED
    again = await connect(two.url, hello=False)
    welcome = await again.hello(token=mine, session=session)
    assert welcome["resumed"] is False
    # Nobody left to close: answered, nothing closed.
    nobody = await http.ok("disconnect", {"user": f"{user}-nobody"})
    assert nobody["closed"] == 0
