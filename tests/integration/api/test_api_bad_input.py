"""Bad input over HTTP gets its status and the error body, and stores nothing;
the same errors come back over NATS."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from nats.aio.client import Client as NatsClient

from haws.api.node import ApiNode
from haws.common import names
from haws.server import ApiError, ServerApi
from tests.integration.api.conftest import KEY, READ_KEY, StartApi
from tests.support.api_caller import Answer, ApiCaller
from tests.support.waiting import eventually


async def last_seq(http: ApiCaller, topic: str) -> int:
    messages = (await http.ok("history", {"topic": topic, "limit": 1000}))["messages"]
    return messages[-1]["seq"] if messages else 0


def assert_error(answer: Any, status: int, code: str) -> None:
    assert answer.status == status, answer
    assert answer.body["error"]["code"] == code, answer
    assert answer.body["error"]["message"]


@pytest.mark.parametrize(
    ("key", "why"), [(None, "missing"), ("nope", "wrong"), (f"{KEY}x", "near miss")]
)
async def test_no_or_wrong_key_is_401_and_nothing_is_stored(
    http: ApiCaller, topic: str, key: str | None, why: str
) -> None:
    answer = await http.post("publish", {"topic": topic, "data": 1}, key=key)
    assert_error(answer, 401, "unauthorized")
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert await last_seq(http, topic) == 0, why


async def test_each_bad_request_has_its_status(http: ApiCaller, api: ApiNode, topic: str) -> None:
    cases: list[tuple[str, dict[str, Any] | None, bytes | None, int, str]] = [
        ("nope", {}, None, 404, "not_found"),
        ("publish", {"topic": "bad topic!", "data": 1}, None, 400, "bad_request"),
        ("publish", {"topic": "a..b", "data": 1}, None, 400, "bad_request"),
        ("publish", {"topic": topic}, None, 400, "bad_request"),  # no data
        ("publish", {"topic": topic, "data": 1, "extra": 1}, None, 400, "bad_request"),
        ("publish", None, b'{"topic": ', 400, "bad_request"),
        ("publish", None, b"[1, 2]", 400, "bad_request"),
        (
            "broadcast",
            {"topics": [f"{topic}.{i}" for i in range(101)], "data": 1},
            None,
            400,
            "bad_request",
        ),
        ("broadcast", {"topics": [], "data": 1}, None, 400, "bad_request"),
        ("history", {"topic": topic, "limit": 1001}, None, 400, "bad_request"),
        ("disconnect", {"user": "a", "session": "b"}, None, 400, "bad_request"),
        ("disconnect", {"user": "a", "code": 1000}, None, 400, "bad_request"),
    ]
    for method, body, raw, status, code in cases:
        answer = await http.post(method, body, raw=raw)
        assert_error(answer, status, code)
    big = json.dumps({"topic": topic, "data": "x" * api.settings.max_body_bytes}).encode()
    assert_error(await http.post("publish", raw=big), 413, "too_large")
    assert await last_seq(http, topic) == 0
    # The broadcast with 101 topics stored nothing on any of them.
    assert await last_seq(http, f"{topic}.0") == 0


async def test_read_key_may_read_but_not_write_and_expect_seq_conflicts(
    http: ApiCaller, topic: str
) -> None:
    assert_error(
        await http.post("publish", {"topic": topic, "data": 1}, key=READ_KEY), 403, "forbidden"
    )
    assert (await http.post("history", {"topic": topic}, key=READ_KEY)).status == 200
    stored = await http.ok("publish", {"topic": topic, "data": 1, "expect_seq": 0})
    answer = await http.post("publish", {"topic": topic, "data": 2, "expect_seq": 0})
    assert_error(answer, 409, "conflict")
    assert await last_seq(http, topic) == stored["seq"]


async def test_over_the_rate_is_429_with_retry_after(start_api: StartApi, topic: str) -> None:
    async with start_api(rate=1.0, burst=3) as node, aiohttp.ClientSession() as session:
        http = ApiCaller(session, node.url, KEY)
        statuses = [(await http.post("presence_stats", {"topic": topic})).status for _ in range(6)]
        limited = await http.post("publish", {"topic": topic, "data": 1})
        assert_error(limited, 429, "rate_limited")
        assert int(limited.headers["Retry-After"]) >= 1
        assert statuses[:3] != [429] * 3
        assert 429 in statuses
        sdk = ServerApi.http(node.url, KEY)
        with pytest.raises(ApiError) as caught:
            await sdk.publish(topic, 1)
        await sdk.close()
        assert (caught.value.code, caught.value.status, caught.value.retryable) == (
            "rate_limited",
            429,
            True,
        )


async def test_nats_door_answers_errors_in_the_same_body(
    api: ApiNode, nc: NatsClient, topic: str
) -> None:
    del api
    reply = await nc.request(names.api_subject("publish"), b"{not json", timeout=5)
    assert json.loads(reply.data)["error"]["code"] == "bad_request"
    assert reply.headers is not None
    assert reply.headers["Nats-Service-Error-Code"] == "400"
    with pytest.raises(ApiError) as caught:
        await ServerApi.nats(nc).broadcast([f"{topic}.{i}" for i in range(101)], 1)
    assert caught.value.code == "bad_request"
    # The micro service is discoverable.
    ping = await nc.request("$SRV.PING.haws-api", b"", timeout=5)
    assert json.loads(ping.data)["name"] == "haws-api"
    info = json.loads((await nc.request("$SRV.INFO.haws-api", b"", timeout=5)).data)
    assert {e["subject"] for e in info["endpoints"]} == {
        names.api_subject(m) for m in names.API_METHODS
    }


async def test_nats_down_is_503_with_retry_after_and_a_retried_mid_is_stored_once(
    start_api: StartApi, nats_server: Any, topic: str
) -> None:
    async with start_api(nats_url=nats_server.url) as node, aiohttp.ClientSession() as session:
        http = ApiCaller(session, node.url, KEY)
        body = {"topic": topic, "data": "once", "mid": f"retry-{topic}"}
        await asyncio.to_thread(nats_server.stop)
        try:
            down = await http.post("publish", body)
            assert_error(down, 503, "unavailable")
            assert int(down.headers["Retry-After"]) >= 1
        finally:
            await asyncio.to_thread(nats_server.start)
        answers: list[Answer] = []

        async def stored_on_retry() -> bool:  # a backend retrying with the same mid
            answers.append(await http.post("publish", body))
            return answers[-1].status == 200

        await eventually(stored_on_retry, timeout=20, interval=0.1, message="publish retried")
        assert {a.status for a in answers[:-1]} <= {503}
        stored = answers[-1].body
        again = await http.ok("publish", body)
        assert (again["seq"], again["dup"]) == (stored["seq"], True)
        history = await http.ok("history", {"topic": topic})
        assert [m["data"] for m in history["messages"]] == ["once"]
