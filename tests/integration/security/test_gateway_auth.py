"""Authentication in ``hello.token`` and ``refresh``, on a real gateway in jwt mode."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from tests.integration.conftest import Connect
from tests.integration.security.conftest import (
    AUDIENCE,
    StartGateway,
    hello_refused,
    jwt_settings,
    token,
)
from tests.support.gateway_runner import RunningGateway
from tests.unit.security import keypairs as kp

pytestmark = pytest.mark.integration


def failures(gw: RunningGateway, reason: str) -> float:
    registry = gw.deps.metrics.registry
    value = registry.get_sample_value("haws_gateway_auth_failures_total", {"reason": reason})
    return value or 0.0


async def test_valid_token_names_the_user_in_msg_from(
    jwt_gateway: RunningGateway, connect: Connect, topic: str
) -> None:
    alice = await connect(jwt_gateway.url, token=token("alice"))
    await alice.sub(topic)
    await alice.pub(topic, "hi")
    (msg,) = await alice.wait_msgs(topic, 1)
    assert msg["from"] == "alice"


async def test_rs256_token_from_the_public_key_file(
    jwt_gateway: RunningGateway, connect: Connect
) -> None:
    body = {**kp.claims("rita", aud=AUDIENCE), **kp.grants([">"], [">"])}
    welcome = await (await connect(jwt_gateway.url, hello=False)).hello(token=kp.rs256(body))
    assert welcome["op"] == "welcome"


BAD_TOKENS: list[tuple[str, Callable[[], str | None], str]] = [
    ("missing", lambda: None, "missing"),
    ("forged", lambda: kp.forged(kp.claims(aud=AUDIENCE)), "signature"),
    ("expired", lambda: token(ttl=-60), "expired"),
    ("other audience", lambda: token(audience="another-service"), "audience"),
    ("alg none", lambda: kp.alg_none(kp.claims(aud=AUDIENCE)), "algorithm"),
    ("hs256 with the rsa public key", lambda: kp.confused(kp.claims(aud=AUDIENCE)), "signature"),
    ("no exp", lambda: kp.hs256({"sub": "alice", "aud": AUDIENCE}), "claims"),
    ("garbage", lambda: "x" * 100, "malformed"),
]


@pytest.mark.parametrize(("name", "make", "reason"), BAD_TOKENS, ids=[b[0] for b in BAD_TOKENS])
async def test_bad_tokens_close_4001(
    jwt_gateway: RunningGateway,
    connect: Connect,
    topic: str,
    name: str,
    make: Callable[[], str | None],
    reason: str,
) -> None:
    before = failures(jwt_gateway, reason)
    client = await connect(jwt_gateway.url, hello=False)
    bad = make()
    assert await hello_refused(client, **({"token": bad} if bad is not None else {})) == 4001
    assert failures(jwt_gateway, reason) == before + 1
    assert not jwt_gateway.deps.hub.connections  # never admitted


async def test_confused_token_is_refused_by_a_node_with_only_the_public_key(
    gateway_with: StartGateway, rsa_key_file: Path, connect: Connect
) -> None:
    settings = jwt_settings(rsa_key_file, auth_hs256_secret="")
    async with gateway_with(**settings) as gw:
        client = await connect(gw.url, hello=False)
        assert await hello_refused(client, token=kp.confused(kp.claims(aud=AUDIENCE))) == 4001
        assert failures(gw, "algorithm") == 1


async def test_anonymous_mode_is_the_default_and_ignores_tokens(
    gateway_with: StartGateway, connect: Connect, topic: str
) -> None:
    async with gateway_with() as gw:
        client = await connect(gw.url, token=kp.forged(kp.claims()))
        await client.sub(topic)
        await client.pub(topic, 1)
        assert "from" not in (await client.wait_msgs(topic, 1))[0]


async def test_expiry_closes_4001_unless_refreshed(
    jwt_gateway: RunningGateway, connect: Connect, topic: str
) -> None:
    # exp is in whole seconds: both tokens expire within the next second.
    short = token("alice", ttl=1)
    lapsing = await connect(jwt_gateway.url, token=short)
    keeping = await connect(jwt_gateway.url, token=short)
    await keeping.sub(topic)
    reply = await keeping.request({"op": "refresh", "token": token("alice", ttl=60)})
    assert reply["op"] == "refreshed"
    assert reply["exp"] >= int(time.time()) + 55

    assert await lapsing.wait_closed(timeout=5) == 4001
    assert lapsing.others[-1]["code"] == "unauthorized"
    # Past the old expiry and its grace, the refreshed connection still works.
    assert (await keeping.request({"op": "ping"}))["op"] == "pong"
    await keeping.pub(topic, "still here")
    assert (await keeping.wait_msgs(topic, 1))[0]["data"] == "still here"


async def test_refresh_with_a_bad_token_is_refused_and_the_connection_stays(
    jwt_gateway: RunningGateway, connect: Connect
) -> None:
    client = await connect(jwt_gateway.url, token=token())
    reply = await client.request({"op": "refresh", "token": token(ttl=-60)})
    assert (reply["op"], reply["code"]) == ("error", "unauthorized")
    assert (await client.request({"op": "ping"}))["op"] == "pong"


async def test_refresh_for_another_user_closes_4001(
    jwt_gateway: RunningGateway, connect: Connect
) -> None:
    client = await connect(jwt_gateway.url, token=token("alice"))
    await client.send({"op": "refresh", "id": 1, "token": token("mallory")})
    assert await client.wait_closed() == 4001


async def test_refresh_with_narrower_grants_drops_what_is_no_longer_granted(
    jwt_gateway: RunningGateway, connect: Connect, topic: str
) -> None:
    client = await connect(jwt_gateway.url, token=token("alice", sub=[f"{topic}.>"]))
    await client.sub(f"{topic}.keep")
    await client.sub(f"{topic}.drop")
    narrower = token("alice", sub=[f"{topic}.keep"], pub=[f"{topic}.*"])
    await client.send({"op": "refresh", "id": 99, "token": narrower})
    dropped = await client.recv("error")
    assert (dropped["code"], dropped["topic"]) == ("forbidden", f"{topic}.drop")
    assert (await client.recv("refreshed"))["id"] == 99
    await client.pub(f"{topic}.drop", "not for you")
    await client.pub(f"{topic}.keep", "yours")
    assert (await client.wait_msgs(f"{topic}.keep", 1))[0]["data"] == "yours"
    assert client.msgs[f"{topic}.drop"] == []
    assert set(jwt_gateway.deps.hub.by_session[client.others[0]["session"]].subs) == {
        f"{topic}.keep"
    }


async def test_a_burst_of_bad_tokens_is_refused_and_a_good_client_still_gets_in(
    jwt_gateway: RunningGateway, connect: Connect
) -> None:
    bad = [await connect(jwt_gateway.url, hello=False) for _ in range(20)]
    codes = await asyncio.gather(*(hello_refused(c, token=kp.forged(kp.claims())) for c in bad))
    assert set(codes) == {4001}
    good = await connect(jwt_gateway.url, token=token())
    assert (await good.request({"op": "ping"}))["op"] == "pong"


async def test_anonymous_refresh_is_answered_without_exp(
    gateway_with: StartGateway, connect: Connect
) -> None:
    async with gateway_with() as gw:
        client = await connect(gw.url)
        assert await client.request({"op": "refresh", "token": "anything"}) == {
            "op": "refreshed",
            "id": 1,
        }


async def test_http_presence_is_off_with_jwt_auth(jwt_gateway: RunningGateway) -> None:
    """Plain HTTP carries no token, so it cannot check grants: the route is not served."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{jwt_gateway.http}/v1/presence/some.topic") as resp,
    ):
        assert resp.status == 404
